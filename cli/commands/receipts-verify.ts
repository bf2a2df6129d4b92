/**
 * `egress-gate receipts verify --key JWKSFILE [--head FILE] PATH…` (SPEC §2, §9).
 * Exit 0 intact (one summary line on stdout), 1 with the first bad line as `file:line: reason`
 * on stdout, 2 usage or an unreadable input.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { verifyReceiptLog, ReceiptHeadError } from '../../receipts/verify-log.js';
import { listReceiptFiles } from '../../receipts/receipt-files.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts verify --key JWKSFILE [--head FILE] [--json] PATH…
  Verifies signatures, sequence and hash chain of receipt logs. PATH: the receipts folder or
  its files, in any order (they are ordered by name).
  --key JWKSFILE  public keys (e.g. saved from admin GET /jwks.json)
  --head FILE     a head saved from admin GET /receipts/head: also detects lines cut from the end
  --json          print the result as one JSON object
Exit 0 intact, 1 with the first bad line as "file:line: reason", 2 usage or unreadable input.`;

async function readJwks(file: string): Promise<{ keys?: unknown }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new RuntimeError(`cannot read --key ${file}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text) as { keys?: unknown; kty?: unknown };
    // A single JWK is accepted as a JWKS of one.
    return Array.isArray(j.keys) ? j : { keys: [j] };
  } catch {
    throw new RuntimeError(`--key ${file} is not JSON`);
  }
}

export const command: Command = {
  name: 'receipts verify',
  summary: 'verify signatures, chain and sequence of receipt logs',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { key: { type: 'string' }, head: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (!values.key) throw new UsageError('--key JWKSFILE is required');
    if (positionals.length === 0) throw new UsageError('no PATH given');
    const jwks = await readJwks(values.key);
    let files: string[];
    try {
      files = await listReceiptFiles(positionals);
    } catch (e) {
      throw new RuntimeError(`cannot read ${positionals.join(' ')}: ${(e as Error).message}`);
    }
    if (files.length === 0) throw new RuntimeError(`no receipt log file in ${positionals.join(' ')}`);
    let result;
    try {
      result = await verifyReceiptLog(files, jwks, values.head === undefined ? {} : { head: values.head });
    } catch (e) {
      if (e instanceof ReceiptHeadError) throw new RuntimeError(e.message);
      throw e;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      const headNote = values.head === undefined ? '' : ', reaches the head';
      process.stdout.write(`ok: ${result.count} receipts in ${result.files.length} file(s), seq 0..${result.lastSeq}, chain intact${headNote}\n`);
    } else {
      process.stdout.write(`${result.file}:${result.line}: ${result.reason}\n`);
    }
    return result.ok ? 0 : 1;
  },
};
