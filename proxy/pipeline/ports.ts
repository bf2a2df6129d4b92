/**
 * The seams the pipeline is written against. Implementations: the permit checker and replay
 * stores in policy/permits/, the decider client in runtime/, the pause gate in proxy/authority/; tests
 * may pass their own.
 */
import type { NormalizedRequest, PermitFacts, Route } from '../../policy/types.js';
import type { Reason } from '../../policy/reasons.js';
import type { DeciderAnswer } from '../../runtime/decider-client.js';

// The decider's seam is shared with the arbiter, so it is defined beside its client in runtime/.
export type { DeciderAnswer, DeciderInput, DeciderPort } from '../../runtime/decider-client.js';

export type PermitClaims = Record<string, unknown> & { jti: string; exp: number; idk?: string; txn?: string; sub?: string };

export type PermitCheck =
  | { ok: true; claims: PermitClaims; facts: PermitFacts }
  | { ok: false; reason: Reason; detail: string; facts?: PermitFacts };

export interface PermitCheckerPort {
  check(input: { token: string | undefined; route: Route; request: NormalizedRequest; bodySha256?: string }): Promise<PermitCheck>;
}

export type ReplayClaim =
  | { ok: true; attempt: number; retryOf?: string }
  | { ok: false; reason: 'PERMIT_REPLAYED' | 'PERMIT_IN_FLIGHT' };

export interface ReplayPort {
  /** Rejects with ReplayStoreUnavailableError (policy/permits/replay-store.ts) when the store cannot answer. */
  claim(jti: string, expS: number, opts: { idk?: string; idempotencyKey?: string }): Promise<ReplayClaim>;
  /** The attempt ended; its decision receipt id is what a retry's `retry_of` names. */
  finish(jti: string, receiptId: string): Promise<void>;
}

export interface PausePort {
  /** Re-asks `attempt` while the answer is SILENCE, for at most `maxMs`; returns the last answer. */
  hold(maxMs: number, first: DeciderAnswer, attempt: () => Promise<DeciderAnswer>): Promise<DeciderAnswer>;
}
