/**
 * The append-only receipt log (SPEC §9). One instance owns the receipts folder.
 *
 * Invariants:
 * - Crash safety: an append's promise resolves only after its line (and every line before it)
 *   has been written and, with `durability: 'fsync'`, fdatasync'ed (and the folder fsync'ed
 *   after a new file is created). A line whose append resolved therefore survives `kill -9`
 *   and power loss; anything after it may be torn, and `open` cuts such a tail.
 * - The chain never skips: the writer (log-writer.ts) assigns `seq` and `prev` when it forms a
 *   commit and advances them only once the commit is durable; a failed commit is cut away and
 *   every append in it rejected with ReceiptUnavailableError.
 * - Group commit: appends made in one turn of the event loop go to the writer as one job, and
 *   jobs that reach the writer while it commits are merged into its next single write and
 *   fdatasync; throughput scales with concurrency, latency stays about one commit.
 * - What goes in is the caller's job: never put header values, query strings, bodies, permits
 *   or secrets in a body, only their digests (SPEC §9).
 */
import { closeSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { lineHash, type ReceiptSigner } from './receipt-codec.js';
import { listLogFiles, logFileName, readReceiptPayloads } from './receipt-files.js';
import { openLogFileSync } from './log-file.js';
import { findIntactTail } from './recover-tail.js';
import { createUuidV7 } from './uuid-v7.js';
import type { CommitResult, WriterState } from './log-writer.js';
import { inlineWriter, threadWriter, type WriterPort } from './writer-host.js';

export type ReceiptKind = 'decision' | 'outcome' | 'lifecycle';

/** What a caller appends: the kind and its fields (SPEC §9). The log adds v, id, seq, prev, ts, gate. */
export interface ReceiptBody {
  kind: ReceiptKind;
  [field: string]: unknown;
}

export interface ReceiptLogOptions {
  dir: string;
  signer: ReceiptSigner;
  durability: 'fsync' | 'none';
  /** A new file is started when a batch would take the current one past this size. */
  rotateBytes: number;
  /** The gate id written in every receipt. */
  gate: string;
  /** ms since the epoch; default Date.now. */
  clock?: () => number;
  /** Called with the duration of each successful fdatasync, in seconds (for the metric). */
  onFsync?: (seconds: number) => void;
  /** Sign, write and fsync on the log's own thread, off the event loop (the gate does; default inline). */
  ownThread?: boolean;
}

/** The receipt could not be made durable: the request must end `SILENCE RECEIPT_UNAVAILABLE`. */
export class ReceiptUnavailableError extends Error {
  override name = 'ReceiptUnavailableError';
  readonly code = 'RECEIPT_UNAVAILABLE';
}

type ResolvedOptions = Required<Omit<ReceiptLogOptions, 'onFsync' | 'ownThread'>> & Pick<ReceiptLogOptions, 'onFsync' | 'ownThread'>;

const RESERVED = new Set(['v', 'id', 'seq', 'prev', 'ts', 'gate']);
const MAX_BATCH = 4096;

interface Pending {
  body: ReceiptBody;
  resolve: (r: { id: string; seq: number }) => void;
  reject: (e: Error) => void;
}

export class ReceiptLog {
  /** False after a failed write until a later write succeeds (readiness reports it). */
  writable = true;
  /** Bytes cut from a torn tail at open (0 when the log was intact). */
  recoveredBytes = 0;
  #pending: Pending[] = [];
  #scheduled = false;
  /** Jobs handed to the writer and not yet settled. */
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;
  /** The state the newest settled commit reported. */
  #state: WriterState;
  readonly #o: ResolvedOptions;
  readonly #uuid: () => string;
  readonly #writer: WriterPort;

  private constructor(o: ResolvedOptions, state: WriterState) {
    this.#o = o;
    this.#state = state;
    this.#uuid = createUuidV7(o.clock);
    const wo = { dir: o.dir, durability: o.durability, rotateBytes: o.rotateBytes, gate: o.gate };
    this.#writer = o.ownThread ? threadWriter(o.signer, wo, state, MAX_BATCH) : inlineWriter(o.signer, wo, state);
  }

  /**
   * Opens (creating, mode 0750) the receipts folder, recovers seq and prev from the newest
   * file's tail, cuts a torn tail (then appends `lifecycle {event: 'recovered', bytes_dropped}`).
   */
  static async open(opts: ReceiptLogOptions): Promise<ReceiptLog> {
    if (!(opts.rotateBytes > 0)) throw new TypeError('rotateBytes must be a positive number');
    const o = { clock: Date.now, ...opts };
    await mkdir(o.dir, { recursive: true, mode: 0o750 });
    const files = await listLogFiles(o.dir);
    const file = files.at(-1) ?? path.join(o.dir, logFileName(0));
    // Creates a first file durably (its folder entry fsync'ed); the writer reopens it by path.
    closeSync(openLogFileSync(file, o.dir));
    const fh = await open(file, 'r+');
    let size = 0;
    let dropped = 0;
    let nextSeq = 0;
    let prev: string | null = null;
    try {
      const st = await fh.stat();
      const tail = await findIntactTail(fh, st.size, o.signer);
      size = tail.validSize;
      dropped = st.size - tail.validSize;
      if (dropped > 0) {
        await fh.truncate(size);
        await fh.datasync();
      }
      let last = tail;
      // An empty newest file (rotated just before a crash): the chain continues from the one before.
      for (let i = files.length - 2; last.lastLine === null && i >= 0; i--) {
        const older = await open(files[i]!, 'r');
        try {
          last = await findIntactTail(older, (await older.stat()).size, o.signer);
        } finally {
          await older.close();
        }
      }
      if (last.lastLine !== null) {
        nextSeq = last.lastSeq + 1;
        prev = lineHash(last.lastLine);
      }
    } finally {
      await fh.close();
    }
    const log = new ReceiptLog(o, { file: path.resolve(file), size, nextSeq, prev, dirty: false });
    if (dropped > 0) {
      log.recoveredBytes = dropped;
      await log.append({ kind: 'lifecycle', event: 'recovered', bytes_dropped: dropped, file: path.basename(file) });
    }
    return log;
  }

  /**
   * Payloads of every decodable line of the log in `dir`, in chain order (signatures not
   * checked): what the replay store reads at start to rebuild spent permit jtis.
   */
  static readAll(dir: string): AsyncGenerator<Record<string, unknown>> {
    return readReceiptPayloads(dir);
  }

  /** seq of the newest durable line; -1 for an empty log. */
  get lastSeq(): number {
    return this.#state.nextSeq - 1;
  }

  /** Absolute path of the file being written. */
  get currentFile(): string {
    return this.#state.file;
  }

  /**
   * Signs and appends one receipt. Resolves with its id and seq once the line is durable;
   * rejects with ReceiptUnavailableError when it could not be written (nothing of it remains),
   * or TypeError when the body sets a field the log owns.
   */
  append(body: ReceiptBody): Promise<{ id: string; seq: number }> {
    for (const k of Object.keys(body)) {
      if (RESERVED.has(k)) return Promise.reject(new TypeError(`receipt body must not set "${k}": the log assigns it`));
    }
    if (this.#closed) return Promise.reject(new ReceiptUnavailableError('receipt log is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ body, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // Every append of this turn of the event loop joins one job.
        setImmediate(() => this.#flush());
      }
    });
  }

  /**
   * A signed head (`typ: receipt-head+jwt`) of the newest durable line: `{seq, hash, ts}`, hash
   * computed as `prev` is and ts the time of signing. For an empty log: `{seq: -1, hash: null}`.
   */
  head(): string {
    return this.#o.signer.signHead({ seq: this.lastSeq, hash: this.#state.prev, ts: new Date(this.#o.clock()).toISOString() });
  }

  /** Appends `stopBody` if given, waits for every pending append, and closes the file. */
  async close(stopBody?: ReceiptBody): Promise<void> {
    if (this.#closed) return;
    try {
      if (stopBody) await this.append(stopBody);
    } finally {
      this.#closed = true;
      while (this.#scheduled || this.#inflight.size > 0) {
        if (this.#scheduled) this.#flush();
        await Promise.all(this.#inflight);
      }
      await this.#writer.close();
    }
  }

  /** Hands everything appended since the last flush to the writer, as jobs of at most MAX_BATCH. */
  #flush(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      const ready: { p: Pending; id: string; bodyJson: string }[] = [];
      for (const p of batch) {
        try {
          ready.push({ p, id: this.#uuid(), bodyJson: JSON.stringify(p.body) });
        } catch (e) {
          p.reject(e as Error); // unserializable body: a caller bug; it takes no seq
        }
      }
      if (ready.length === 0) continue;
      const ts = new Date(this.#o.clock()).toISOString();
      const job = this.#writer.submit({ ts, items: ready.map((r) => ({ id: r.id, bodyJson: r.bodyJson })) })
        .catch((e: Error): CommitResult => ({ ok: false, error: e.message, state: this.#state }))
        .then((r) => this.#settle(ready, r));
      this.#inflight.add(job);
      void job.finally(() => this.#inflight.delete(job));
    }
  }

  #settle(ready: { p: Pending; id: string }[], r: CommitResult): void {
    this.#state = r.state;
    if (!r.ok) {
      this.writable = false;
      const err = new ReceiptUnavailableError(r.error);
      for (const x of ready) x.p.reject(err);
      return;
    }
    this.writable = true;
    if (r.fsyncSeconds !== undefined) this.#o.onFsync?.(r.fsyncSeconds);
    ready.forEach((x, i) => x.p.resolve({ id: x.id, seq: r.first + i }));
  }
}
