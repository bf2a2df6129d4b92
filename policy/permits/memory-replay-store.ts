/**
 * The in-process replay store (`replay: memory`). Claims run synchronously on the event loop,
 * so check-and-set cannot interleave: of any number of concurrent claims of a fresh jti,
 * exactly one succeeds. Bounded: when full of unexpired entries it refuses (the caller turns
 * that into SILENCE) rather than forgetting a spent jti, which would allow a replay.
 */
import { MAX_ATTEMPTS, mayRetry, ReplayStoreUnavailableError, type ClaimOptions, type ReplayClaim, type ReplayStore, type SpentEntry } from './replay-store.js';

interface Entry {
  /** Seconds since the epoch after which the entry may be forgotten (exp + grace). */
  until: number;
  attempts: number;
  inFlight: boolean;
  lastReceipt?: string;
}

export interface MemoryReplayStoreOptions {
  maxEntries?: number;
  /** Kept past exp by this many seconds: the checker accepts a permit until exp + clock_skew. */
  graceS?: number;
  /** ms since the epoch. */
  clock?: () => number;
}

/** Spent and in-flight jtis in this process, rebuilt from the receipt log at start. */
export class MemoryReplayStore implements ReplayStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly graceS: number;
  private readonly clock: () => number;
  private lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(opts: MemoryReplayStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 1_000_000;
    this.graceS = opts.graceS ?? 0;
    this.clock = opts.clock ?? Date.now;
    if (!(this.maxEntries > 0)) throw new TypeError('maxEntries must be positive');
  }

  get size(): number {
    return this.entries.size;
  }

  private nowS(): number {
    return Math.floor(this.clock() / 1000);
  }

  private live(jti: string, nowS: number): Entry | undefined {
    const e = this.entries.get(jti);
    if (e && e.until <= nowS) {
      this.entries.delete(jti);
      return undefined;
    }
    return e;
  }

  /** Drops expired entries; O(n), so at most once a second, and when full or once a minute. */
  private sweep(force: boolean): void {
    const nowMs = this.clock();
    if (nowMs - this.lastSweepMs < (force ? 1000 : 60_000)) return;
    this.lastSweepMs = nowMs;
    const nowS = Math.floor(nowMs / 1000);
    for (const [jti, e] of this.entries) if (e.until <= nowS) this.entries.delete(jti);
  }

  private insert(jti: string, e: Entry): void {
    if (this.entries.size >= this.maxEntries) this.sweep(true);
    if (this.entries.size >= this.maxEntries) {
      throw new ReplayStoreUnavailableError(`the replay store is full (${this.maxEntries} unexpired permits)`);
    }
    this.entries.set(jti, e);
  }

  async claim(jti: string, expS: number, opts: ClaimOptions): Promise<ReplayClaim> {
    this.sweep(false);
    const nowS = this.nowS();
    const e = this.live(jti, nowS);
    if (!e) {
      this.insert(jti, { until: expS + this.graceS, attempts: 1, inFlight: true });
      return { ok: true, attempt: 1 };
    }
    if (!mayRetry(opts)) return { ok: false, reason: 'PERMIT_REPLAYED' };
    if (e.inFlight) return { ok: false, reason: 'PERMIT_IN_FLIGHT' };
    if (e.attempts >= MAX_ATTEMPTS) return { ok: false, reason: 'PERMIT_REPLAYED' };
    e.attempts++;
    e.inFlight = true;
    return e.lastReceipt ? { ok: true, attempt: e.attempts, retryOf: e.lastReceipt } : { ok: true, attempt: e.attempts };
  }

  async finish(jti: string, receiptId: string): Promise<void> {
    const e = this.entries.get(jti);
    if (!e) return;
    e.inFlight = false;
    if (receiptId) e.lastReceipt = receiptId;
  }

  /**
   * Restores spent jtis after a restart, one entry per attempt in log order: each counts as a
   * finished attempt, and the last receipt id is what a retry names. Expired entries are skipped.
   */
  async rebuild(entries: Iterable<SpentEntry>): Promise<void> {
    const nowS = this.nowS();
    for (const { jti, exp, receiptId } of entries) {
      if (exp + this.graceS <= nowS) continue;
      const e = this.entries.get(jti);
      if (e) {
        e.attempts++;
        e.until = Math.max(e.until, exp + this.graceS);
        if (receiptId) e.lastReceipt = receiptId;
      } else {
        this.insert(jti, { until: exp + this.graceS, attempts: 1, inFlight: false, ...(receiptId ? { lastReceipt: receiptId } : {}) });
      }
    }
  }

  ready(): boolean {
    return this.entries.size < this.maxEntries;
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
