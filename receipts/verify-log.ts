/**
 * `receipts verify` as a function (SPEC §2, §9): one streaming pass over a receipt log that
 * recomputes its Merkle tree with a CompactRange (O(log n) memory whatever the log's size) and
 * checks every line against it. Reports the first bad line as file:line: reason.
 *
 * What is checked, and why it is enough:
 * - every line is an entry (`v: 2`, UUIDv7 id, known kind) or a checkpoint line;
 * - entry `seq` runs 0, 1, 2… across the files in name order: a removed, duplicated,
 *   reordered or inserted entry, or a missing file, breaks it at the first line out of place;
 * - every checkpoint is signed by the key, has the log's one origin, and states the size and
 *   root of the tree of all the entries before it: a changed or re-serialized entry changes
 *   its leaf, so the root of the first checkpoint after it. Consistency between successive
 *   checkpoints needs no proof here: both roots are recomputed from the same leaves, so each
 *   tree is a prefix of the next by construction;
 * - nothing follows the last checkpoint, and every file ends with a checkpoint line;
 * - with a saved checkpoint (`--checkpoint`): the tree of the log's first N entries (N its
 *   size) has its root, whether or not N is a commit boundary of this log. This is what catches
 *   a log cut back by whole commits or rewritten and re-signed with the real key, which are
 *   otherwise self-consistent.
 */
import { readFile } from 'node:fs/promises';
import { CompactRange } from './tlog/compact-range.js';
import { leafHash } from './tlog/merkle.js';
import { CheckpointOpener, CheckpointOpenError, parseLogKey, type LogKey, type OpenedCheckpoint } from './log-key.js';
import { LogLineError, parseLogLine } from './log-line.js';
import { readLogLines } from './log-lines.js';
import { listReceiptFiles } from './receipt-files.js';

export type VerifyResult =
  | { ok: true; entries: number; checkpoints: number; size: number; root: string; origin: string | undefined; files: string[]; saved?: { size: number; root: string } }
  | { ok: false; file: string; line: number; reason: string };

export interface VerifyOptions {
  /** A saved checkpoint note (e.g. kept by `receipts monitor`) the log must hold. */
  checkpoint?: string;
}

/** A saved checkpoint that cannot be used at all (unreadable, not signed by the key). */
export class SavedCheckpointError extends Error {
  override name = 'SavedCheckpointError';
  readonly code = 'SAVED_CHECKPOINT_INVALID';
}

/** Reads a saved checkpoint file (--checkpoint): its whole text is the note. */
export async function readSavedCheckpoint(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new SavedCheckpointError(`cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
}

const b64 = (b: Buffer): string => b.toString('base64');

/**
 * Verifies the receipt log made of `paths` (files and/or folders, ordered by file name
 * whatever order given) with `key`: a LogKey, a verifier key's text, or a JWKS object.
 * Line numbers are 1-based within their file. Throws SavedCheckpointError for a saved
 * checkpoint that does not open with the key, LogKeyError for a key that is none.
 */
export async function verifyReceiptLog(paths: readonly string[], key: LogKey | string | { keys?: unknown }, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const files = await listReceiptFiles(paths);
  const logKey = typeof key === 'string' ? parseLogKey(key) : 'verifiersFor' in key ? key : parseLogKey(JSON.stringify(key), 'the JWKS');
  const opener = new CheckpointOpener(logKey);
  let saved: OpenedCheckpoint | undefined;
  if (opts.checkpoint !== undefined) {
    try {
      saved = opener.open(opts.checkpoint);
    } catch (e) {
      if (e instanceof CheckpointOpenError) throw new SavedCheckpointError(`saved checkpoint: ${e.message}`);
      throw e;
    }
  }
  const tree = new CompactRange();
  const savedMismatch = (): string | undefined =>
    saved && tree.size === saved.size && !tree.root().equals(saved.root)
      ? `the first ${saved.size} entries do not have the root of the saved checkpoint (${b64(saved.root)}): the log was rewritten`
      : undefined;
  let checkpoints = 0;
  // The first entry not yet sealed by a checkpoint, and the last line seen.
  let unsealed: { file: string; line: number } | undefined;
  let last: { file: string; line: number } | undefined;
  const early = savedMismatch();
  if (early) return { ok: false, file: files[0] ?? '', line: 1, reason: early };

  for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    let fileLast: { line: number; checkpoint: boolean } | undefined;
    for await (const l of readLogLines([file])) {
      const bad = (reason: string): VerifyResult => ({ ok: false, file, line: l.lineNo, reason });
      if (!l.terminated) return bad('line not terminated by a newline (a torn write)');
      let parsed;
      try {
        parsed = parseLogLine(l.bytes);
      } catch (e) {
        if (e instanceof LogLineError) return bad(e.message);
        throw e;
      }
      last = { file, line: l.lineNo };
      fileLast = { line: l.lineNo, checkpoint: parsed.type === 'checkpoint' };
      if (parsed.type === 'entry') {
        const seq = parsed.entry.seq;
        if (seq !== tree.size) {
          return bad(`seq ${seq}, expected ${tree.size} (an entry was removed, duplicated, reordered or inserted, or a file is missing)`);
        }
        tree.append(leafHash(l.bytes));
        unsealed ??= { file, line: l.lineNo };
        const m = savedMismatch();
        if (m) return bad(m);
        continue;
      }
      let c: OpenedCheckpoint;
      try {
        c = opener.open(parsed.note);
      } catch (e) {
        if (e instanceof CheckpointOpenError) return bad(e.message);
        throw e;
      }
      const since = unsealed ? ` (an entry since ${unsealed.file === file ? 'line ' : `${unsealed.file}:`}${unsealed.line} was changed or re-serialized)` : '';
      if (c.size !== tree.size) return bad(`checkpoint tree size ${c.size}, but ${tree.size} entries precede it`);
      if (!c.root.equals(tree.root())) return bad(`checkpoint root ${b64(c.root)} is not the root of the ${tree.size} entries before it${since}`);
      checkpoints++;
      unsealed = undefined;
    }
    if (fileLast && !fileLast.checkpoint) {
      // An entry after the last checkpoint, or a file that does not end sealed (rotation follows a commit).
      const at = unsealed && unsealed.file === file ? unsealed.line : fileLast.line;
      const reason = f === files.length - 1
        ? 'entry after the last checkpoint (not sealed by any checkpoint)'
        : 'the file does not end with a checkpoint line (entries from here on are not sealed in it)';
      return { ok: false, file, line: at, reason };
    }
  }
  if (saved && tree.size < saved.size) {
    return {
      ok: false,
      file: last?.file ?? files[0] ?? '',
      line: last?.line ?? 1,
      reason: `the log ends at tree size ${tree.size}, but the saved checkpoint has tree size ${saved.size}: the log was cut back`,
    };
  }
  return {
    ok: true,
    entries: tree.size,
    checkpoints,
    size: tree.size,
    root: b64(tree.root()),
    origin: opener.origin,
    files,
    ...(saved ? { saved: { size: saved.size, root: b64(saved.root) } } : {}),
  };
}
