/**
 * `egress-gate receipts verify-proof --key KEY FILE` (SPEC §2, §9): checks one tlog-proof
 * alone, with nothing but the key: the checkpoint's signature, that the entry bytes it carries
 * are a v2 entry whose seq is the proof's index, and that the inclusion path leads from their
 * leaf hash to the checkpoint's root. Exit 0 (the entry on stdout, as JSON), 1 not valid
 * (`FILE: reason` on stdout), 2 usage or unreadable input.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CheckpointOpener, CheckpointOpenError, loadLogKey, LogKeyError, type LogKey } from '../../receipts/log-key.js';
import { parseLogLine } from '../../receipts/log-line.js';
import { leafHash, verifyInclusion } from '../../receipts/tlog/merkle.js';
import { parseTlogProof } from '../../receipts/tlog/tlog-proof.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts verify-proof --key KEY FILE
  Verifies one inclusion proof (from receipts proof or admin GET /receipts/proof): the
  checkpoint's signature, the inclusion path, and the entry bytes; prints the entry as JSON.
  --key KEY  the log's verifier key (admin GET /receipts/key), or a JWKS/JWK file holding its
             Ed25519 public key
Exit 0 valid, 1 not valid ("FILE: reason"), 2 usage or unreadable input.`;

/** Why the proof text is not a valid proof of an entry of the log of `key`, or the entry's JSON. */
export function checkProof(text: string, key: LogKey): { ok: true; entry: string } | { ok: false; reason: string } {
  let p;
  try {
    p = parseTlogProof(text);
  } catch (e) {
    return { ok: false, reason: `not a tlog-proof: ${(e as Error).message}` };
  }
  if (!p.extra) return { ok: false, reason: 'the proof carries no entry (no extra line)' };
  let c;
  try {
    c = new CheckpointOpener(key).open(p.checkpoint);
  } catch (e) {
    if (e instanceof CheckpointOpenError) return { ok: false, reason: e.message };
    throw e;
  }
  let parsed;
  try {
    parsed = parseLogLine(p.extra);
  } catch (e) {
    return { ok: false, reason: `the entry bytes are not an entry: ${(e as Error).message}` };
  }
  if (parsed.type !== 'entry') return { ok: false, reason: 'the proved line is a checkpoint line, not an entry' };
  if (parsed.entry.seq !== p.index) return { ok: false, reason: `the entry's seq ${parsed.entry.seq} is not the proof's index ${p.index}` };
  if (!verifyInclusion(p.index, c.size, leafHash(p.extra), p.path, c.root)) {
    return { ok: false, reason: `the inclusion path of index ${p.index} does not lead to the root of the checkpoint (tree size ${c.size})` };
  }
  return { ok: true, entry: Buffer.from(p.extra).toString('utf8') };
}

export const command: Command = {
  name: 'receipts verify-proof',
  summary: 'verify one inclusion proof and print its entry',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({ args: argv, strict: true, allowPositionals: true, options: { key: { type: 'string' } } });
    if (!values.key) throw new UsageError('--key KEY is required');
    if (positionals.length !== 1) throw new UsageError('give exactly one proof FILE');
    const file = positionals[0]!;
    let key: LogKey;
    try {
      key = await loadLogKey(values.key);
    } catch (e) {
      if (e instanceof LogKeyError) throw new RuntimeError(e.message);
      throw e;
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new RuntimeError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const r = checkProof(text, key);
    process.stdout.write(r.ok ? `${r.entry}\n` : `${file}: ${r.reason}\n`);
    return r.ok ? 0 : 1;
  },
};
