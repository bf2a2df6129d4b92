/**
 * Recovery at open (SPEC §9): find the last checkpoint line that seals the log — it opens (our
 * key, our origin) and its root is the tree of every entry before it — cut everything after it
 * (a torn or unsealed commit, whose requests were never forwarded), and hand the writer the
 * tree state to continue from.
 *
 * Two ways to get the tree state, fastest first:
 * - From the node index (node-index.ts): read only the tail of the newest file, find its last
 *   checkpoint, and rebuild the compact range from the index's right-border nodes (one read per
 *   set bit of the size); accepted only when that root equals the checkpoint's root. Cost: the
 *   tail, whatever the log's size.
 * - Otherwise (no index, a short or wrong one, a tail the window does not cover): re-read every
 *   file, hashing every entry, checking every checkpoint against the tree so far, and rewrite
 *   the index on the way. Cost: linear in the log (see README, "what is measured").
 *
 * A checkpoint signed under another key ID (the receipt key was rotated) cannot be checked here
 * and is accepted on its root alone, so a key rotation never cuts good history; one that names
 * our key ID must verify.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkpointNoteOf, CHECKPOINT_PREFIX, listLogFiles, logFileName, readLogLines } from './log-lines.js';
import { removeLaterFiles } from './log-writer.js';
import { NodeIndex, type IndexNode } from './node-index.js';
import { CompactRange } from './tlog/compact-range.js';
import { leafHash } from './tlog/merkle.js';
import { parseCheckpoint, type Checkpoint } from './tlog/checkpoint.js';
import { openNote, parseNote, type NoteVerifier } from './tlog/signed-note.js';

/** Refuse to silently cut more than this much: that is not a torn commit, a human must look. */
export const MAX_RECOVER_BYTES = 4 * 1024 * 1024;
/** How much of the newest file's end the fast path reads. */
const TAIL_WINDOW = MAX_RECOVER_BYTES + 4 * 1024 * 1024;

export class ReceiptLogCorruptError extends Error {
  override name = 'ReceiptLogCorruptError';
  readonly code = 'RECEIPT_LOG_CORRUPT';
}

export interface RecoveredLog {
  /** The file the writer continues in, and its size once the unsealed tail is cut. */
  file: string;
  size: number;
  tree: CompactRange;
  /** The newest sealing checkpoint note (null for an empty log). */
  checkpoint: string | null;
  /** The last sealed entry's bytes (null for an empty log). */
  lastEntry: Buffer | null;
  bytesDropped: number;
  entriesDropped: number;
  /** How the tree state was found. */
  via: 'empty' | 'index' | 'scan';
}

/**
 * The checkpoint of a checkpoint line if it may seal the log: it parses, names our origin, and
 * its signature verifies with our key — or is under another key ID only (a rotated key).
 */
export function sealingCheckpoint(note: string, verifier: NoteVerifier): Checkpoint | undefined {
  try {
    const { signatures } = parseNote(note);
    const ours = signatures.some((s) => s.name === verifier.name && s.keyId.equals(verifier.keyId));
    const cp = parseCheckpoint(ours ? openNote(note, verifier) : textOf(note));
    return cp.origin === verifier.name ? cp : undefined;
  } catch {
    return undefined;
  }
}

function textOf(note: string): string {
  return parseNote(note).text;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let off = 0;
  while (off < length) {
    const n = readSync(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/** A v1 log (one compact JWS a line) is not continued: v2 starts a new log in a new folder. */
function refuseV1(files: readonly string[]): void {
  for (const f of files) {
    const fd = openSync(f, 'r');
    try {
      const head = readAt(fd, 0, 256).toString('latin1');
      if (head === '') continue;
      if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/.test(head) && !head.startsWith('{')) {
        throw new ReceiptLogCorruptError(`${f} holds v1 receipts (signed JWS lines); the v2 log (Merkle tree and checkpoints) starts in an empty receipts.dir: move the old files away (they still verify with a v1 verifier)`);
      }
      return;
    } finally {
      closeSync(fd);
    }
  }
}

export async function recoverLog(dir: string, verifier: NoteVerifier): Promise<RecoveredLog> {
  const files = await listLogFiles(dir);
  refuseV1(files);
  let last = files.length - 1;
  while (last >= 0 && statSync(files[last]!).size === 0) last--;
  if (last < 0) {
    // Nothing written yet (or only empty files): keep the first, drop the rest.
    const file = files[0] ?? path.resolve(dir, logFileName(0));
    removeLaterFiles(dir, path.basename(file));
    new NodeIndex(dir, { writable: true }).truncate(0);
    return { file, size: 0, tree: new CompactRange(), checkpoint: null, lastEntry: null, bytesDropped: 0, entriesDropped: 0, via: 'empty' };
  }
  const fast = fromIndex(dir, files[last]!, verifier);
  const r = fast ?? (await fromScan(dir, files, verifier));
  if (r.bytesDropped > MAX_RECOVER_BYTES) {
    throw new ReceiptLogCorruptError(`${r.bytesDropped} bytes at the end of the receipt log (${path.basename(r.file)}) are not sealed by a checkpoint that verifies; refusing to cut more than ${MAX_RECOVER_BYTES}: look at the log (receipts verify)`);
  }
  const fd = openSync(r.file, 'r+');
  try {
    if (fstatSync(fd).size > r.size) {
      ftruncateSync(fd, r.size);
      fdatasyncSync(fd);
    }
  } finally {
    closeSync(fd);
  }
  removeLaterFiles(dir, path.basename(r.file));
  return r;
}

/** The fast path: the newest file's tail and the node index. undefined when it cannot decide. */
function fromIndex(dir: string, file: string, verifier: NoteVerifier): RecoveredLog | undefined {
  const index = new NodeIndex(dir, { writable: true });
  try {
    const fd = openSync(file, 'r');
    let size: number;
    let start: number;
    let buf: Buffer;
    try {
      size = fstatSync(fd).size;
      start = Math.max(0, size - TAIL_WINDOW);
      buf = readAt(fd, start, size - start);
    } finally {
      closeSync(fd);
    }
    // Line boundaries in the window (a first partial line is skipped when the window starts mid-file).
    const lines: { at: number; end: number; terminated: boolean }[] = [];
    let p = 0;
    if (start > 0) {
      const nl = buf.indexOf(10);
      if (nl < 0) return undefined;
      p = nl + 1;
    }
    while (p < buf.length) {
      const nl = buf.indexOf(10, p);
      if (nl < 0) { lines.push({ at: p, end: buf.length, terminated: false }); break; }
      lines.push({ at: p, end: nl, terminated: true });
      p = nl + 1;
    }
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (!l.terminated) continue;
      const text = buf.subarray(l.at, l.end).toString('utf8');
      if (!text.startsWith(CHECKPOINT_PREFIX)) continue;
      const note = checkpointNoteOf(text);
      const cp = note === undefined ? undefined : sealingCheckpoint(note, verifier);
      if (!cp || note === undefined) continue;
      if (index.count(0) < cp.size || index.offsetCount() < cp.size) return undefined;
      const tree = CompactRange.fromNodeSource(index, cp.size);
      if (!tree.root().equals(cp.root)) return undefined;
      const prev = i > 0 ? lines[i - 1]! : undefined;
      const lastEntry = cp.size === 0 ? null : prev ? Buffer.from(buf.subarray(prev.at, prev.end)) : null;
      if (cp.size > 0 && (lastEntry === null || !leafHash(lastEntry).equals(index.node(0, cp.size - 1)))) return undefined;
      index.truncate(cp.size);
      const after = lines.slice(i + 1);
      return {
        file, size: start + l.end + 1, tree, checkpoint: note, lastEntry,
        bytesDropped: size - (start + l.end + 1),
        entriesDropped: after.filter((x) => x.terminated && !buf.subarray(x.at, x.end).toString('utf8').startsWith(CHECKPOINT_PREFIX)).length,
        via: 'index',
      };
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    index.close();
  }
}

/** The slow path: every line of every file, the tree recomputed and the node index rewritten. */
async function fromScan(dir: string, files: readonly string[], verifier: NoteVerifier): Promise<RecoveredLog> {
  const index = new NodeIndex(dir, { writable: true });
  try {
    const tree = new CompactRange();
    let good = { fileIdx: 0, end: 0, tree: tree.clone(), note: null as string | null, lastEntry: null as Buffer | null };
    let lastEntry: Buffer | null = null;
    let nodes: IndexNode[] = [];
    let offsets: number[] = [];
    let firstPending = 0;
    const flush = () => {
      index.append(nodes, firstPending, offsets);
      nodes = [];
      offsets = [];
      firstPending = tree.size;
    };
    const onNode = (level: number, i: number, hash: Buffer) => { nodes.push([level, i, hash]); };
    const fileIdx = new Map(files.map((f, i) => [f, i]));
    let entriesAfterGood = 0;
    for await (const l of readLogLines(files)) {
      if (!l.terminated) break; // a torn last line; nothing can follow it in a writer's file
      if (l.bytes.length > CHECKPOINT_PREFIX.length && l.bytes.subarray(0, CHECKPOINT_PREFIX.length).toString('latin1') === CHECKPOINT_PREFIX) {
        const note = checkpointNoteOf(l.bytes.toString('utf8'));
        const cp = note === undefined ? undefined : sealingCheckpoint(note, verifier);
        if (cp && cp.size === tree.size && cp.root.equals(tree.root())) {
          good = { fileIdx: fileIdx.get(l.file)!, end: l.offset + l.bytes.length + 1, tree: tree.clone(), note: note!, lastEntry };
          entriesAfterGood = 0;
        }
        continue;
      }
      lastEntry = Buffer.from(l.bytes);
      tree.append(leafHash(l.bytes), onNode);
      offsets.push(l.offset);
      entriesAfterGood++;
      if (offsets.length >= 8192) flush();
    }
    flush();
    index.truncate(good.tree.size);
    let dropped = 0;
    for (let i = good.fileIdx; i < files.length; i++) dropped += statSync(files[i]!).size - (i === good.fileIdx ? good.end : 0);
    return {
      file: files[good.fileIdx]!, size: good.end, tree: good.tree, checkpoint: good.note, lastEntry: good.lastEntry,
      bytesDropped: dropped, entriesDropped: entriesAfterGood, via: 'scan',
    };
  } finally {
    index.close();
  }
}

