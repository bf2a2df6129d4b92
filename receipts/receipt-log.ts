/**
 * The append-only receipt log (SPEC §9): an RFC 9162 Merkle tree of JSON entry lines, sealed
 * after every commit by a signed C2SP checkpoint line. One instance owns the receipts folder.
 *
 * Invariants:
 * - One writer per folder: `open` takes the folder's lock (receipt-lock.ts) before it reads or
 *   writes anything, and refuses (ReceiptLogLockedError) when another live gate holds it.
 * - Crash safety: an append's promise resolves only after its entry, every entry before it and
 *   the checkpoint line sealing them have been written and, with `durability: 'fsync'`,
 *   fdatasync'ed (and the folder fsync'ed after a new file is created). What follows the last
 *   checkpoint may be torn or unsealed, and `open` cuts it (recover-log.ts).
 * - The tree never skips: the writer (log-writer.ts) assigns `seq` when it forms a commit and
 *   advances the tree only once the commit is durable; a failed commit is cut away and every
 *   append in it rejected with ReceiptUnavailableError.
 * - Group commit: appends made in one turn of the event loop go to the writer as one job, and
 *   jobs that reach the writer while it commits are merged into its next commit: one
 *   checkpoint signature, one write and one fdatasync for all of them.
 * - What goes in is the caller's job: never put header values, query strings, bodies, permits
 *   or secrets in a body, only their digests (SPEC §9).
 */
import { closeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { openLogFileSync } from './log-file.js';
import { readEntries } from './log-lines.js';
import { checkpointOf, LogProofs, ProofUnavailableError, type ProofCheckpoint } from './log-proofs.js';
import type { EntryKind } from './log-line.js';
import { lockReceiptDir, type ReceiptLock } from './receipt-lock.js';
import type { ReceiptSigner } from './receipt-codec.js';
import { recoverLog } from './recover-log.js';
import { parseVerifierKey, verifierKey } from './tlog/signed-note.js';
import { createUuidV7 } from './uuid-v7.js';
import type { CommitResult, WriterState } from './log-writer.js';
import { inlineWriter, threadWriter, type WriterPort } from './writer-host.js';

/** decision, outcome, lifecycle (a gate's log) and issuance (an arbiter's, SPEC §12). */
export type ReceiptKind = EntryKind;

/** What a caller appends: the kind and its fields (SPEC §9). The log adds v, id, seq, ts, gate. */
export interface ReceiptBody {
  kind: ReceiptKind;
  [field: string]: unknown;
}

export interface ReceiptLogOptions {
  dir: string;
  signer: ReceiptSigner;
  durability: 'fsync' | 'none';
  /** A new file is started when a commit would take the current one past this size. */
  rotateBytes: number;
  /** The gate id written in every entry. */
  gate: string;
  /** The checkpoint origin and note key name (receipts.origin); default `egress-gate/<gate>`. */
  origin?: string;
  /** ms since the epoch; default Date.now. */
  clock?: () => number;
  /** Called with the duration of each successful fdatasync, in seconds (for the metric). */
  onFsync?: (seconds: number) => void;
  /** Seal, write and fsync on the log's own thread, off the event loop (the gate does; default inline). */
  ownThread?: boolean;
  /**
   * Hold every append (the `recovered` entry included) until `release()`: the gate binds its
   * listeners first, so a start that fails writes nothing (`abandon()` then drops them).
   */
  hold?: boolean;
}

/** The receipt could not be made durable: the request must end `SILENCE RECEIPT_UNAVAILABLE`. */
export class ReceiptUnavailableError extends Error {
  override name = 'ReceiptUnavailableError';
  readonly code = 'RECEIPT_UNAVAILABLE';
}

export { ReceiptLogLockedError } from './receipt-lock.js';
export { ReceiptLogCorruptError } from './recover-log.js';
export { ProofUnavailableError };

type ResolvedOptions = Omit<ReceiptLogOptions, 'origin' | 'clock'> & { origin: string; clock: () => number };

const RESERVED = new Set(['v', 'id', 'seq', 'ts', 'gate']);
const MAX_BATCH = 4096;

interface Pending {
  body: ReceiptBody;
  resolve: (r: { id: string; seq: number }) => void;
  reject: (e: Error) => void;
}

export class ReceiptLog {
  /** False after a failed write until a later write succeeds (readiness reports it). */
  writable = true;
  /** Bytes and entries cut from an unsealed tail at open (0 when the log was intact). */
  recoveredBytes = 0;
  recoveredEntries = 0;
  /** How open found the tree state: from the node index, or by re-reading every file. */
  openedVia: 'empty' | 'index' | 'scan' = 'empty';
  /** The verifier key of the log (`<origin>+<key id>+<key>`, SPEC §9). */
  readonly verifierKey: string;
  readonly origin: string;
  #pending: Pending[] = [];
  #scheduled = false;
  #held: boolean;
  /** Jobs handed to the writer and not yet settled. */
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;
  /** The state the newest settled commit reported. */
  #state: WriterState;
  #checkpoint: ProofCheckpoint | undefined;
  #lastCommitAt: number | undefined;
  readonly #o: ResolvedOptions;
  readonly #uuid: () => string;
  readonly #writer: WriterPort;
  readonly #lock: ReceiptLock;
  readonly #proofs: LogProofs;

  private constructor(o: ResolvedOptions, state: WriterState, lock: ReceiptLock, idFloorMs: number) {
    this.#o = o;
    this.#state = state;
    this.#lock = lock;
    this.#held = o.hold === true;
    this.origin = o.origin;
    this.verifierKey = verifierKey(o.origin, o.signer.publicKey);
    this.#checkpoint = state.checkpoint === null ? undefined : checkpointOf(state.checkpoint);
    // Ids keep increasing across restarts (proof lookup by id is a binary search over seq).
    this.#uuid = createUuidV7(() => Math.max(o.clock(), idFloorMs));
    const wo = { dir: o.dir, durability: o.durability, rotateBytes: o.rotateBytes, gate: o.gate, origin: o.origin };
    this.#writer = o.ownThread ? threadWriter(o.signer, wo, state, MAX_BATCH) : inlineWriter(o.signer, wo, state);
    this.#proofs = new LogProofs(o.dir);
  }

  /**
   * Opens (creating, mode 0750) the receipts folder: takes its lock, finds the tree state, cuts
   * an unsealed tail (then appends `lifecycle {event: 'recovered', bytes_dropped,
   * entries_dropped}`). Throws ReceiptLogLockedError when another gate holds the folder, and
   * ReceiptLogCorruptError when more than MAX_RECOVER_BYTES would have to be cut.
   */
  static async open(opts: ReceiptLogOptions): Promise<ReceiptLog> {
    if (!(opts.rotateBytes > 0)) throw new TypeError('rotateBytes must be a positive number');
    const o: ResolvedOptions = { ...opts, clock: opts.clock ?? Date.now, origin: opts.origin ?? `egress-gate/${opts.gate}` };
    await mkdir(o.dir, { recursive: true, mode: 0o750 });
    const lock = lockReceiptDir(o.dir);
    let log: ReceiptLog;
    try {
      const verifier = parseVerifierKey(verifierKey(o.origin, o.signer.publicKey));
      const r = await recoverLog(o.dir, verifier);
      // Creates a first file durably (its folder entry fsync'ed); the writer reopens it by path.
      closeSync(openLogFileSync(r.file, o.dir));
      // The newest id's 48-bit millisecond field: the next ids start after it.
      const m = r.lastEntry === null ? null : /"id":"([0-9a-f]{8})-([0-9a-f]{4})-/.exec(r.lastEntry.subarray(0, 80).toString('latin1'));
      const floor = m ? parseInt(`${m[1]}${m[2]}`, 16) + 1 : 0;
      log = new ReceiptLog(o, {
        file: path.resolve(r.file), size: r.size, tree: r.tree.toJSON(), checkpoint: r.checkpoint, dirty: false, indexOk: true,
      }, lock, floor);
      log.openedVia = r.via;
      log.recoveredBytes = r.bytesDropped;
      log.recoveredEntries = r.entriesDropped;
    } catch (e) {
      lock.release();
      throw e;
    }
    if (log.recoveredBytes > 0) {
      const p = log.append({ kind: 'lifecycle', event: 'recovered', bytes_dropped: log.recoveredBytes, entries_dropped: log.recoveredEntries, file: path.basename(log.currentFile) });
      if (log.#held) p.catch(() => undefined);
      else await p;
    }
    return log;
  }

  /**
   * Every entry of the log in `dir`, parsed, in log order (nothing verified): what the replay
   * store reads at start to rebuild spent permit jtis.
   */
  static readAll(dir: string): AsyncGenerator<Record<string, unknown>> {
    return readEntries(dir);
  }

  /** seq of the newest durable entry; -1 for an empty log. */
  get lastSeq(): number {
    return this.#state.tree.size - 1;
  }

  /** Absolute path of the file being written. */
  get currentFile(): string {
    return this.#state.file;
  }

  /** The newest checkpoint note: its tree holds every entry acknowledged so far (undefined before the first commit). */
  checkpoint(): string | undefined {
    return this.#checkpoint?.note;
  }

  /**
   * The tlog-proof of one entry against the newest checkpoint; undefined for an entry the
   * checkpoint does not hold. Throws ProofUnavailableError when the node index cannot answer.
   */
  proof(q: { seq: number } | { id: string }): string | undefined {
    const cp = this.#checkpoint;
    if (!cp) return undefined;
    const seq = 'seq' in q ? q.seq : this.#proofs.seqOfId(q.id, cp.size);
    if (seq === undefined || !Number.isSafeInteger(seq) || seq < 0 || seq >= cp.size) return undefined;
    this.#indexReady();
    return this.#proofs.inclusion(seq, cp);
  }

  /** The consistency answer from size `from` to the newest checkpoint. RangeError when `from` is larger. */
  consistency(from: number): string | undefined {
    const cp = this.#checkpoint;
    if (!cp) return undefined;
    if (!Number.isSafeInteger(from) || from < 0 || from > cp.size) throw new RangeError(`no consistency proof from size ${from} to the log's size ${cp.size}`);
    this.#indexReady();
    return this.#proofs.consistency(from, cp);
  }

  /** When the newest commit (and its checkpoint) became durable, ms since the epoch; undefined before this process's first. */
  get lastCommitAt(): number | undefined {
    return this.#lastCommitAt;
  }

  /** The newest checkpoint's tree size (0 before the first commit). */
  get size(): number {
    return this.#checkpoint?.size ?? 0;
  }

  #indexReady(): void {
    if (!this.#state.indexOk) throw new ProofUnavailableError('the node index could not be written; proofs are served again after a restart rebuilds it');
  }

  /**
   * Appends one entry. Resolves with its id and seq once it is durable and sealed; rejects
   * with ReceiptUnavailableError when it could not be written (nothing of it remains), or
   * TypeError when the body sets a field the log owns.
   */
  append(body: ReceiptBody): Promise<{ id: string; seq: number }> {
    for (const k of Object.keys(body)) {
      if (RESERVED.has(k)) return Promise.reject(new TypeError(`receipt body must not set "${k}": the log assigns it`));
    }
    if (this.#closed) return Promise.reject(new ReceiptUnavailableError('receipt log is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ body, resolve, reject });
      this.#schedule();
    });
  }

  /** Ends the hold: `first` (the gate's `start`) is written before every held append. */
  release(first?: ReceiptBody): Promise<{ id: string; seq: number }> | undefined {
    let p: Promise<{ id: string; seq: number }> | undefined;
    if (first) {
      p = new Promise((resolve, reject) => { this.#pending.unshift({ body: first, resolve, reject }); });
    }
    this.#held = false;
    this.#schedule();
    return p;
  }

  /** A start that failed: drops every held append (rejected), closes the writer, frees the folder. */
  async abandon(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const err = new ReceiptUnavailableError('receipt log abandoned: the gate did not start');
    for (const p of this.#pending.splice(0)) p.reject(err);
    this.#scheduled = false;
    try {
      await Promise.all(this.#inflight);
      await this.#writer.close();
    } finally {
      this.#proofs.close();
      this.#lock.release();
    }
  }

  /**
   * Appends `stopBody` if given — the last entry: any append after it is refused — waits for
   * every pending append, closes the file and frees the folder.
   */
  async close(stopBody?: ReceiptBody): Promise<void> {
    if (this.#closed) return;
    let stop: Promise<unknown> | undefined;
    if (stopBody) {
      stop = new Promise((resolve, reject) => { this.#pending.push({ body: stopBody, resolve, reject }); });
    }
    this.#closed = true;
    this.#held = false;
    this.#scheduled = this.#pending.length > 0;
    try {
      while (this.#scheduled || this.#inflight.size > 0) {
        if (this.#scheduled) this.#flush();
        await Promise.all(this.#inflight);
      }
      if (stop) await stop;
    } finally {
      await this.#writer.close();
      this.#proofs.close();
      this.#lock.release();
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#held || this.#pending.length === 0) return;
    this.#scheduled = true;
    // Every append of this turn of the event loop joins one job.
    setImmediate(() => this.#flush());
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
    if (r.state.checkpoint !== null && r.state.checkpoint !== this.#checkpoint?.note) this.#checkpoint = checkpointOf(r.state.checkpoint);
    if (!r.ok) {
      this.writable = false;
      const err = new ReceiptUnavailableError(r.error);
      for (const x of ready) x.p.reject(err);
      return;
    }
    this.writable = true;
    this.#lastCommitAt = this.#o.clock();
    if (r.fsyncSeconds !== undefined) this.#o.onFsync?.(r.fsyncSeconds);
    ready.forEach((x, i) => x.p.resolve({ id: x.id, seq: r.first + i }));
  }
}
