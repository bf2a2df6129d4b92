/**
 * Spent and in-flight permit `jti`s (SPEC §5). A store answers one question atomically:
 * may this attempt with this jti go ahead? A single-use jti is spent by its first claim; a
 * permit with `idk`, presented with the same `Idempotency-Key`, may be presented again once
 * the previous attempt finished, up to MAX_ATTEMPTS in all. A store that cannot answer
 * rejects with ReplayStoreUnavailableError, which the pipeline turns into SILENCE.
 */

/** 1 attempt plus at most 3 retries. */
export const MAX_ATTEMPTS = 4;

export type ReplayClaim =
  | { ok: true; attempt: number; retryOf?: string }
  | { ok: false; reason: 'PERMIT_REPLAYED' | 'PERMIT_IN_FLIGHT' };

export interface ClaimOptions {
  /** The permit's `idk` claim. */
  idk?: string;
  /** The request's `Idempotency-Key` header. */
  idempotencyKey?: string;
}

/** A spent jti as the receipt log records it: one entry per attempt that was let through. */
export interface SpentEntry {
  jti: string;
  /** The permit's exp, seconds since the epoch. */
  exp: number;
  /** The attempt's decision receipt id. */
  receiptId: string;
}

export interface ReplayStore {
  /** Rejects with ReplayStoreUnavailableError (code REPLAY_STORE_UNAVAILABLE) when it cannot answer. */
  claim(jti: string, expS: number, opts: ClaimOptions): Promise<ReplayClaim>;
  /** The attempt ended; `receiptId` ("" when none was written) is what the next retry's retryOf names. */
  finish(jti: string, receiptId: string): Promise<void>;
  /** Restores spent jtis (from the receipt log, at start). */
  rebuild?(entries: Iterable<SpentEntry>): Promise<void>;
  /** True when claims can currently be answered (for /readyz). */
  ready(): boolean;
  close(): Promise<void>;
}

/** The replay store cannot answer (unreachable, or full): the request must not go ahead. */
export class ReplayStoreUnavailableError extends Error {
  override name = 'ReplayStoreUnavailableError';
  readonly code = 'REPLAY_STORE_UNAVAILABLE';
}

/** True when this attempt may retry an earlier one: the permit names an idk and the request repeats it. */
export function mayRetry(opts: ClaimOptions): boolean {
  return opts.idk !== undefined && opts.idk !== '' && opts.idempotencyKey === opts.idk;
}
