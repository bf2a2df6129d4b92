/**
 * The receipt log's writer: forms the entry lines of a commit, appends their leaf hashes to the
 * tree, signs ONE checkpoint for the new size, and writes entries and checkpoint line in one
 * write and one fdatasync — one commit at a time, synchronously. The gate runs it on its own
 * thread (writer-thread.ts) so that a commit costs one hand-off from the event loop and back;
 * tests and tools run it inline.
 *
 * Invariants (the log's, SPEC §9):
 * - Nothing unsealed stays: the state (file size, tree) advances only once the commit's
 *   entries and its checkpoint are written and (with `fsync`) fdatasync'ed. A failed commit is
 *   cut away (the file truncated back to the last checkpoint line, or before the next write if
 *   that fails too), the tree restored (the commit works on a clone), and every job in it
 *   fails, so the next commit reuses the same seq numbers and nothing of the failed one is
 *   ever sealed.
 * - Every file ends with a checkpoint line: a new file is started only before a commit.
 * - The node index is written after the commit is durable; a failure there never fails a
 *   commit (the index is derived data, rebuilt at the next open), it only stops proof serving.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { entryLines } from './entry-lines.js';
import { checkpointLine, isLogFileName, logFileName } from './log-lines.js';
import { openLogFileSync, writeFullySync } from './log-file.js';
import { NodeIndex, type IndexNode } from './node-index.js';
import { CompactRange, type CompactRangeJSON } from './tlog/compact-range.js';
import { leafHash } from './tlog/merkle.js';
import { signCheckpoint } from './tlog/checkpoint.js';

/** Where the log stands: the file being written and the last durable commit. */
export interface WriterState {
  /** Absolute path of the file being written. */
  file: string;
  /** Size of that file up to its last checkpoint line; where the next commit is written. */
  size: number;
  /** The tree of every sealed entry (its size is the next seq). */
  tree: CompactRangeJSON;
  /** The newest checkpoint note (null for a log with no commit yet). */
  checkpoint: string | null;
  /** Bytes past `size` may be on disk (a failed write): truncate before writing. */
  dirty: boolean;
  /** The node index holds every node of `tree` (false after an index write failed). */
  indexOk: boolean;
}

export interface WriterOptions {
  dir: string;
  durability: 'fsync' | 'none';
  rotateBytes: number;
  gate: string;
  /** The checkpoint origin, and the note key name (receipts.origin). */
  origin: string;
}

/** One batch of appends, formed by the log: ids and bodies already serialized. */
export interface WriterJob {
  ts: string;
  items: { id: string; bodyJson: string }[];
}

export type CommitResult =
  | { ok: true; first: number; state: WriterState; fsyncSeconds?: number }
  | { ok: false; error: string; state: WriterState };

export class LogWriter {
  #fd: number;
  #s: WriterState;
  #tree: CompactRange;
  readonly #index: NodeIndex;

  /**
   * Opens `state.file` to continue the log from `state`. A dirty state means a writer may have
   * written past it (a restart after a writer thread died): files it started after
   * `state.file` hold only commits nobody was told are durable, so they are removed, the
   * current file is cut back to `state.size` before the next write, and the node index cut
   * back to the tree of `state`.
   */
  constructor(private readonly o: WriterOptions, private readonly key: KeyObject, state: WriterState) {
    this.#s = { ...state };
    this.#tree = CompactRange.fromJSON(state.tree);
    if (state.dirty) removeLaterFiles(o.dir, path.basename(state.file));
    this.#index = new NodeIndex(o.dir, { writable: true });
    try {
      this.#index.truncate(this.#tree.size);
    } catch {
      this.#s.indexOk = false;
    }
    this.#fd = openLogFileSync(state.file, o.dir);
  }

  get state(): WriterState {
    return { ...this.#s, tree: this.#tree.toJSON() };
  }

  /**
   * Commits `jobs` as one write and one fdatasync, sealed by one checkpoint. Returns one result
   * per job: all ok (each with its first seq), or all failed with nothing of them left in the log.
   */
  commit(jobs: WriterJob[]): CommitResult[] {
    const s = this.#s;
    const firstSeq = this.#tree.size;
    const firsts: number[] = [];
    const tree = this.#tree.clone();
    const nodes: IndexNode[] = [];
    const onNode = (level: number, index: number, hash: Buffer) => { nodes.push([level, index, hash]); };
    const parts: Buffer[] = [];
    const lineStarts: number[] = [];
    let length = 0;
    let note: string;
    try {
      for (const j of jobs) {
        firsts.push(tree.size);
        for (const line of entryLines({ seq: tree.size, ts: j.ts, gate: this.o.gate, items: j.items })) {
          const bytes = Buffer.from(line, 'utf8');
          tree.append(leafHash(bytes), onNode);
          lineStarts.push(length);
          parts.push(bytes, NEWLINE);
          length += bytes.length + 1;
        }
      }
      if (tree.size === firstSeq) return jobs.map((_, i) => ({ ok: true, first: firsts[i]!, state: this.state }));
      note = signCheckpoint({ origin: this.o.origin, size: tree.size, root: tree.root() }, this.o.origin, this.key);
    } catch (e) {
      // Nothing was written; the tree is untouched (the commit worked on a clone).
      return this.#failed(jobs, `receipt commit could not be formed: ${(e as Error).message}`);
    }
    parts.push(Buffer.from(checkpointLine(note), 'utf8'), NEWLINE);
    const bytes = Buffer.concat(parts);
    let fsyncSeconds: number | undefined;
    try {
      if (s.dirty) {
        ftruncateSync(this.#fd, s.size);
        s.dirty = false;
      }
      if (s.size > 0 && s.size + bytes.length > this.o.rotateBytes) this.#rotate(firstSeq);
      s.dirty = true;
      writeFullySync(this.#fd, bytes, s.size);
      if (this.o.durability === 'fsync') {
        const t0 = process.hrtime.bigint();
        fdatasyncSync(this.#fd);
        fsyncSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
      }
      s.dirty = false;
    } catch (e) {
      this.#undo();
      return this.#failed(jobs, `receipt log not writable: ${(e as Error).message}`);
    }
    const base = s.size;
    s.size += bytes.length;
    s.checkpoint = note;
    this.#tree = tree;
    if (s.indexOk) {
      try {
        this.#index.append(nodes, firstSeq, lineStarts.map((o) => base + o));
      } catch {
        s.indexOk = false;
      }
    }
    const state = this.state;
    return jobs.map((_, i) => ({ ok: true, first: firsts[i]!, state, ...(i === 0 && fsyncSeconds !== undefined ? { fsyncSeconds } : {}) }));
  }

  close(): void {
    closeSync(this.#fd);
    this.#index.close();
  }

  #failed(jobs: WriterJob[], error: string): CommitResult[] {
    const state = this.state;
    return jobs.map(() => ({ ok: false, error, state }));
  }

  /** After a failed write: cut the file back to its last checkpoint line (retried before the next write if this fails too). */
  #undo(): void {
    try {
      ftruncateSync(this.#fd, this.#s.size);
      fdatasyncSync(this.#fd);
      this.#s.dirty = false;
    } catch {
      // dirty stays set: the next commit truncates before writing anything.
    }
  }

  /** Starts the file whose first entry will be `seq`; the tree continues across files. */
  #rotate(seq: number): void {
    const file = path.resolve(this.o.dir, logFileName(seq));
    const fd = openLogFileSync(file, this.o.dir);
    const old = this.#fd;
    this.#fd = fd;
    this.#s.file = file;
    this.#s.size = 0;
    this.#s.dirty = false;
    try { closeSync(old); } catch { /* already gone */ }
  }
}

const NEWLINE = Buffer.from('\n');

/** Removes the writer's files named after `current` (they sort in log order), then syncs the folder. */
export function removeLaterFiles(dir: string, current: string): void {
  const later = readdirSync(dir).filter((n) => isLogFileName(n) && n > current);
  if (later.length === 0) return;
  for (const n of later) unlinkSync(path.join(dir, n));
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
}
