/**
 * The receipt log's writer: forms, signs, writes and fdatasyncs batches of receipt lines, one
 * commit at a time, synchronously. The gate runs it on its own thread (writer-thread.ts) so that a
 * batch costs one hand-off from the event loop and back — not one per sign, write and fsync —
 * and the next batch starts the moment the last one is durable; tests and tools run it inline.
 *
 * Invariants (the log's, SPEC §9):
 * - The chain never skips: `seq` and `prev` are taken from the committed state when a commit is
 *   formed and advanced only once all of its lines are written and (with `fsync`) fdatasync'ed.
 * - A failed commit is cut away (the file is truncated back to its last durable line, or before
 *   the next write if that fails too) and every job in it fails, so the next commit reuses the
 *   same seq numbers and the file always ends with the last durable line.
 */
import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { chainLines } from './chain-lines.js';
import { isLogFileName, logFileName } from './receipt-files.js';
import type { ReceiptSigner } from './receipt-codec.js';
import { openLogFileSync, writeFullySync } from './log-file.js';

/** Where the log stands: the file being written and its last durable line. */
export interface WriterState {
  /** Absolute path of the file being written. */
  file: string;
  /** Size of that file up to its last durable line; where the next commit is written. */
  size: number;
  nextSeq: number;
  prev: string | null;
  /** Bytes past `size` may be on disk (a failed write): truncate before writing. */
  dirty: boolean;
}

export interface WriterOptions {
  dir: string;
  durability: 'fsync' | 'none';
  rotateBytes: number;
  gate: string;
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
  /**
   * Opens `state.file` to continue the chain from `state`. A dirty state means a writer may
   * have written past it (a restart after a writer thread died): files it started after
   * `state.file` hold only lines nobody was told are durable, so they are removed, and the
   * current file is cut back to `state.size` before the next write.
   */
  constructor(private readonly o: WriterOptions, private readonly signer: Pick<ReceiptSigner, 'signJson'>, state: WriterState) {
    this.#s = { ...state };
    if (state.dirty) removeLaterFiles(o.dir, path.basename(state.file));
    this.#fd = openLogFileSync(state.file, o.dir);
  }

  get state(): WriterState {
    return { ...this.#s };
  }

  /**
   * Commits `jobs` as one write and one fdatasync, in order. Returns one result per job: all
   * ok (each with its first seq), or all failed with nothing of them left in the log.
   */
  commit(jobs: WriterJob[]): CommitResult[] {
    const s = this.#s;
    const firsts: number[] = [];
    const lines: string[] = [];
    let seq = s.nextSeq;
    let prev = s.prev;
    try {
      for (const j of jobs) {
        firsts.push(seq);
        const r = chainLines(this.signer, { seq, prev, ts: j.ts, gate: this.o.gate, items: j.items });
        for (const l of r.lines) lines.push(l);
        seq += j.items.length;
        prev = r.prev;
      }
    } catch (e) {
      // Nothing was written; the chain state is untouched.
      return this.#failed(jobs, `receipt could not be signed: ${(e as Error).message}`);
    }
    if (lines.length === 0) return jobs.map((_, i) => ({ ok: true, first: firsts[i]!, state: this.state }));
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    let fsyncSeconds: number | undefined;
    try {
      if (s.dirty) {
        ftruncateSync(this.#fd, s.size);
        s.dirty = false;
      }
      if (s.size > 0 && s.size + bytes.length > this.o.rotateBytes) this.#rotate(firsts[0]!);
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
    s.size += bytes.length;
    s.nextSeq = seq;
    s.prev = prev;
    const state = this.state;
    return jobs.map((_, i) => ({ ok: true, first: firsts[i]!, state, ...(i === 0 && fsyncSeconds !== undefined ? { fsyncSeconds } : {}) }));
  }

  close(): void {
    closeSync(this.#fd);
  }

  #failed(jobs: WriterJob[], error: string): CommitResult[] {
    const state = this.state;
    return jobs.map(() => ({ ok: false, error, state }));
  }

  /** After a failed write: cut the file back to its last durable line (retried before the next write if this fails too). */
  #undo(): void {
    try {
      ftruncateSync(this.#fd, this.#s.size);
      fdatasyncSync(this.#fd);
      this.#s.dirty = false;
    } catch {
      // dirty stays set: the next commit truncates before writing anything.
    }
  }

  /** Starts the file whose first line will be `seq`; the chain continues across files. */
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

/** Removes the writer's files named after `current` (they sort in chain order), then syncs the folder. */
function removeLaterFiles(dir: string, current: string): void {
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
