/**
 * `receipts verify` as a function (SPEC §9): signatures, sequence and hash chain of a receipt
 * log, optionally against a signed head saved earlier. Reports the first bad line.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HEAD_TYP, importReceiptKeys, lineHash, ReceiptLineError, verifyReceiptLine } from './receipt-codec.js';
import { listReceiptFiles } from './receipt-files.js';

export type VerifyResult =
  | { ok: true; count: number; lastSeq: number; files: string[] }
  | { ok: false; file: string; line: number; reason: string };

export interface VerifyOptions {
  /** A `receipt-head+jwt` JWS, or the path of a file holding one. */
  head?: string;
}

const KINDS = new Set(['decision', 'outcome', 'lifecycle']);
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Thrown for a head that cannot be used at all (unreadable, not a head, bad signature). */
export class ReceiptHeadError extends Error {
  override name = 'ReceiptHeadError';
  readonly code = 'RECEIPT_HEAD_INVALID';
}

async function loadHead(head: string, keys: ReadonlyMap<string, KeyObject>): Promise<{ seq: number; hash: string | null }> {
  const token = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(head.trim()) ? head.trim() : (await readFile(head, 'utf8')).trim();
  let payload: Record<string, unknown>;
  try {
    payload = verifyReceiptLine(token, keys, HEAD_TYP).payload;
  } catch (e) {
    throw new ReceiptHeadError(`head: ${(e as Error).message}`);
  }
  if (!Number.isSafeInteger(payload.seq) || (payload.hash !== null && typeof payload.hash !== 'string')) {
    throw new ReceiptHeadError('head: payload lacks an integer seq and a hash');
  }
  return { seq: payload.seq as number, hash: payload.hash as string | null };
}

/** Why a verified payload does not continue the chain, or undefined when it does. */
function chainFault(p: Record<string, unknown>, expectedSeq: number, expectedPrev: string | null): string | undefined {
  if (p.v !== 1) return `v ${JSON.stringify(p.v)}, expected 1`;
  if (p.seq !== expectedSeq) return `seq ${JSON.stringify(p.seq)}, expected ${expectedSeq} (a line was removed, duplicated, inserted or moved)`;
  if (p.prev !== expectedPrev) {
    return expectedPrev === null
      ? `prev ${JSON.stringify(p.prev)}, expected null for seq 0`
      : `prev ${JSON.stringify(p.prev)} is not the hash of the previous line (${expectedPrev})`;
  }
  if (typeof p.id !== 'string' || !UUIDV7.test(p.id)) return `id ${JSON.stringify(p.id)} is not a UUIDv7`;
  if (typeof p.kind !== 'string' || !KINDS.has(p.kind)) return `kind ${JSON.stringify(p.kind)} is not decision, outcome or lifecycle`;
  return undefined;
}

/**
 * Verifies the receipt log made of `paths` (files and/or folders; ordered by file name whatever
 * order given) with the public keys of `jwks`. Every line must be a `receipt+jwt` EdDSA JWS
 * signed by a key of the JWKS, `seq` must run 0, 1, 2… across files, and `prev` must hash the
 * line before. With `head`, the log must also reach the head's seq with the head's hash (lines
 * cut from the end). Line numbers are 1-based within their file.
 */
export async function verifyReceiptLog(paths: readonly string[], jwks: { keys?: unknown }, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const keys = importReceiptKeys(jwks);
  const head = opts.head === undefined ? undefined : await loadHead(opts.head, keys);
  const files = await listReceiptFiles(paths);
  let expectedSeq = 0;
  let prev: string | null = null;
  let lastFile = files[0] ?? '';
  let lastLineNo = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    const terminated = lines.pop() === '';
    lastFile = file;
    lastLineNo = lines.length;
    if (!terminated) return { ok: false, file, line: lines.length + 1, reason: 'line not terminated by a newline (torn write)' };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const bad = (reason: string): VerifyResult => ({ ok: false, file, line: i + 1, reason });
      let payload: Record<string, unknown>;
      try {
        payload = verifyReceiptLine(line, keys).payload;
      } catch (e) {
        if (e instanceof ReceiptLineError) return bad(e.message);
        throw e;
      }
      const fault = chainFault(payload, expectedSeq, prev);
      if (fault) return bad(fault);
      prev = lineHash(line);
      if (head && expectedSeq === head.seq && prev !== head.hash) {
        return bad(`seq ${expectedSeq} does not hash to the head's hash ${head.hash}`);
      }
      expectedSeq++;
    }
  }
  if (head && expectedSeq - 1 < head.seq) {
    return { ok: false, file: lastFile, line: lastLineNo + 1, reason: `log ends at seq ${expectedSeq - 1} but the head names seq ${head.seq} (lines were cut from the end)` };
  }
  return { ok: true, count: expectedSeq, lastSeq: expectedSeq - 1, files };
}
