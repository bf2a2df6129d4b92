/**
 * `egress-gate receipts verify --key KEY [--checkpoint FILE] [--json] PATH…` (SPEC §2, §9).
 * Exit 0 intact (one summary line on stdout), 1 with the first bad line as `file:line: reason`
 * on stdout, 2 usage or an unreadable input.
 */
import { parseArgs } from 'node:util';
import { loadLogKey, LogKeyError } from '../../receipts/log-key.js';
import { listReceiptFiles } from '../../receipts/receipt-files.js';
import { readSavedCheckpoint, SavedCheckpointError, verifyReceiptLog } from '../../receipts/verify-log.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts verify --key KEY [--checkpoint FILE] [--json] PATH…
  Verifies a receipt log: every line an entry or a checkpoint line, seq 0, 1, 2… across the
  files, every checkpoint signed by KEY with the size and root of the entries before it (so
  successive checkpoints are consistent), nothing after the last checkpoint. PATH: the
  receipts folder or its files, in any order (they are ordered by name).
  --key KEY          the log's verifier key (admin GET /receipts/key), or a JWKS/JWK file
                     holding its Ed25519 public key (admin GET /jwks.json)
  --checkpoint FILE  a checkpoint saved earlier (admin GET /receipts/checkpoint, or the state
                     of receipts monitor): the log must hold its tree, so a log cut back or
                     rewritten and re-signed since is detected
  --json             print the result as one JSON object
Exit 0 intact, 1 with the first bad line as "file:line: reason", 2 usage or unreadable input.`;

export const command: Command = {
  name: 'receipts verify',
  summary: 'verify a receipt log: entries, sequence, checkpoints, and a saved checkpoint',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { key: { type: 'string' }, checkpoint: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (!values.key) throw new UsageError('--key KEY is required');
    if (positionals.length === 0) throw new UsageError('no PATH given');
    let files: string[];
    try {
      files = await listReceiptFiles(positionals);
    } catch (e) {
      throw new RuntimeError(`cannot read ${positionals.join(' ')}: ${(e as Error).message}`);
    }
    if (files.length === 0) throw new RuntimeError(`no receipt log file in ${positionals.join(' ')}`);
    let result;
    try {
      const key = await loadLogKey(values.key);
      const checkpoint = values.checkpoint === undefined ? undefined : await readSavedCheckpoint(values.checkpoint);
      result = await verifyReceiptLog(files, key, checkpoint === undefined ? {} : { checkpoint });
    } catch (e) {
      if (e instanceof LogKeyError || e instanceof SavedCheckpointError) throw new RuntimeError(e.message);
      throw e;
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else if (result.ok) {
      const held = result.saved ? `, holds the saved checkpoint (tree size ${result.saved.size})` : '';
      process.stdout.write(`ok: ${result.entries} entries, ${result.checkpoints} checkpoints, tree size ${result.size}, root ${result.root}${held}\n`);
    } else {
      process.stdout.write(`${result.file}:${result.line}: ${result.reason}\n`);
    }
    return result.ok ? 0 : 1;
  },
};
