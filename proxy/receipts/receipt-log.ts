/**
 * The append-only receipt writer (SPEC §9). One instance owns the receipts folder.
 *
 * Invariants:
 * - Crash safety: an append's promise resolves only after its line (and every line before it)
 *   has been written and, with `durability: 'fsync'`, fdatasync'ed (and the folder fsync'ed
 *   after a new file is created). A line whose append resolved therefore survives `kill -9`
 *   and power loss; anything after it may be torn, and `open` cuts such a tail.
 * - The chain never skips: `seq` and `prev` are assigned when a batch is formed and committed
 *   to the log state only once the whole batch is durable. A failed batch is truncated away
 *   and every append in it rejected with ReceiptUnavailableError, so the file always ends with
 *   the last durable line and the next batch reuses the same seq numbers.
 * - Group commit: appends arriving while a write+fsync runs are written by the next single
 *   write and fdatasync; throughput scales with concurrency, latency stays about one fsync.
 * - What goes in is the caller's job: never put header values, query strings, bodies, permits
 *   or secrets in a body, only their digests (SPEC §9).
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { lineHash, type ReceiptSigner } from './receipt-codec.js';
import { inlineSigner, workerSigner, type BatchSigner } from './batch-signer.js';
import { listLogFiles, logFileName, readReceiptPayloads } from './receipt-files.js';
import { openLogFile, writeFully } from './log-file.js';
import { findIntactTail } from './recover-tail.js';
import { createUuidV7 } from './uuid-v7.js';

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
  /** Sign batches in a worker thread, off the event loop (the gate does; default inline). */
  signInWorker?: boolean;
}

/** The receipt could not be made durable: the request must end `SILENCE RECEIPT_UNAVAILABLE`. */
export class ReceiptUnavailableError extends Error {
  override name = 'ReceiptUnavailableError';
  readonly code = 'RECEIPT_UNAVAILABLE';
}

type ResolvedOptions = Required<Omit<ReceiptLogOptions, 'onFsync' | 'signInWorker'>> & Pick<ReceiptLogOptions, 'onFsync' | 'signInWorker'>;

const RESERVED = new Set(['v', 'id', 'seq', 'prev', 'ts', 'gate']);
const MAX_BATCH = 4096;

interface Pending {
  body: ReceiptBody;
  resolve: (r: { id: string; seq: number }) => void;
  reject: (e: Error) => void;
}

interface FormedLine {
  p: Pending;
  id: string;
  seq: number;
  line: string;
}

export class ReceiptLog {
  /** False after a failed write until a later write succeeds (readiness reports it). */
  writable = true;
  /** Bytes cut from a torn tail at open (0 when the log was intact). */
  recoveredBytes = 0;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;
  #fh: FileHandle;
  #file: string;
  /** Size of the current file up to its last durable line; where the next batch is written. */
  #size: number;
  #nextSeq: number;
  #prev: string | null;
  /** Truncate to #size before the next write: a failed batch may have left bytes behind. */
  #dirty = false;
  readonly #o: ResolvedOptions;
  readonly #uuid: () => string;
  readonly #signer: BatchSigner;

  private constructor(o: ResolvedOptions, fh: FileHandle, file: string, size: number, nextSeq: number, prev: string | null) {
    this.#o = o;
    this.#fh = fh;
    this.#file = file;
    this.#size = size;
    this.#nextSeq = nextSeq;
    this.#prev = prev;
    this.#uuid = createUuidV7(o.clock);
    this.#signer = o.signInWorker ? workerSigner(o.signer) : inlineSigner(o.signer);
  }

  /**
   * Opens (creating, mode 0700) the receipts folder, recovers seq and prev from the newest
   * file's tail, cuts a torn tail (then appends `lifecycle {event: 'recovered', bytes_dropped}`).
   */
  static async open(opts: ReceiptLogOptions): Promise<ReceiptLog> {
    if (!(opts.rotateBytes > 0)) throw new TypeError('rotateBytes must be a positive number');
    const o = { clock: Date.now, ...opts };
    await mkdir(o.dir, { recursive: true, mode: 0o750 });
    const files = await listLogFiles(o.dir);
    let file = files.at(-1) ?? path.join(o.dir, logFileName(0));
    const fh = await openLogFile(file, o.dir);
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
    } catch (e) {
      await fh.close();
      throw e;
    }
    file = path.resolve(file);
    const log = new ReceiptLog(o, fh, file, size, nextSeq, prev);
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
    return this.#nextSeq - 1;
  }

  /** Absolute path of the file being written. */
  get currentFile(): string {
    return this.#file;
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
      this.#flushing ??= this.#flushLoop();
    });
  }

  /**
   * A signed head (`typ: receipt-head+jwt`) of the newest durable line: `{seq, hash, ts}`, hash
   * computed as `prev` is and ts the time of signing. For an empty log: `{seq: -1, hash: null}`.
   */
  head(): string {
    return this.#o.signer.signHead({ seq: this.lastSeq, hash: this.#prev, ts: new Date(this.#o.clock()).toISOString() });
  }

  /** Appends `stopBody` if given, waits for every pending append, and closes the file. */
  async close(stopBody?: ReceiptBody): Promise<void> {
    if (this.#closed) return;
    try {
      if (stopBody) await this.append(stopBody);
    } finally {
      this.#closed = true;
      while (this.#flushing) await this.#flushing;
      await this.#signer.close();
      await this.#fh.close();
    }
  }

  async #flushLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, MAX_BATCH);
        await this.#writeBatch(batch);
      }
    } finally {
      this.#flushing = null;
    }
  }

  /** Forms the batch's lines from the committed state; commits it only once it is durable. */
  async #writeBatch(batch: Pending[]): Promise<void> {
    const ready: { p: Pending; id: string; bodyJson: string }[] = [];
    for (const p of batch) {
      try {
        ready.push({ p, id: this.#uuid(), bodyJson: JSON.stringify(p.body) });
      } catch (e) {
        p.reject(e as Error); // unserializable body: a caller bug; it takes no seq
      }
    }
    if (ready.length === 0) return;
    const first = this.#nextSeq;
    let signed;
    try {
      signed = await this.#signer.sign({
        seq: first, prev: this.#prev, ts: new Date(this.#o.clock()).toISOString(), gate: this.#o.gate,
        items: ready.map((r) => ({ id: r.id, bodyJson: r.bodyJson })),
      });
    } catch (e) {
      // Nothing was written; the chain state is untouched.
      this.writable = false;
      const err = new ReceiptUnavailableError(`receipt could not be signed: ${(e as Error).message}`, { cause: e });
      for (const r of ready) r.p.reject(err);
      return;
    }
    const formed: FormedLine[] = ready.map((r, i) => ({ p: r.p, id: r.id, seq: first + i, line: signed.lines[i]! }));
    const seq = first + formed.length;
    const prev = signed.prev;
    const bytes = Buffer.from(formed.map((f) => `${f.line}\n`).join(''), 'utf8');
    try {
      if (this.#dirty) {
        await this.#fh.truncate(this.#size);
        this.#dirty = false;
      }
      if (this.#size > 0 && this.#size + bytes.length > this.#o.rotateBytes) await this.#rotate(formed[0]!.seq);
      this.#dirty = true;
      await writeFully(this.#fh, bytes, this.#size);
      if (this.#o.durability === 'fsync') {
        const t0 = process.hrtime.bigint();
        await this.#fh.datasync();
        this.#o.onFsync?.(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      this.#dirty = false;
    } catch (e) {
      await this.#undo();
      const err = new ReceiptUnavailableError(`receipt log not writable: ${(e as Error).message}`, { cause: e });
      for (const f of formed) f.p.reject(err);
      return;
    }
    this.#size += bytes.length;
    this.#nextSeq = seq;
    this.#prev = prev;
    this.writable = true;
    for (const f of formed) f.p.resolve({ id: f.id, seq: f.seq });
  }

  /** After a failed batch: cut the file back to its last durable line (retried before the next write if this fails too). */
  async #undo(): Promise<void> {
    this.writable = false;
    if (!this.#dirty) return;
    try {
      await this.#fh.truncate(this.#size);
      await this.#fh.datasync();
      this.#dirty = false;
    } catch {
      // #dirty stays set: the next batch truncates before writing anything.
    }
  }

  /** Starts the file whose first line will be `seq`; the chain continues across files. */
  async #rotate(seq: number): Promise<void> {
    const file = path.join(this.#o.dir, logFileName(seq));
    const fh = await openLogFile(file, this.#o.dir);
    const old = this.#fh;
    this.#fh = fh;
    this.#file = path.resolve(file);
    this.#size = 0;
    this.#dirty = false;
    await old.close().catch(() => undefined);
  }
}
