/**
 * The seams the pipeline is written against. Implementations: the permit checker and replay
 * stores in policy/permits/, the decider client and the pause gate in proxy/authority/; tests
 * may pass their own.
 */
import type { NormalizedRequest, PermitFacts, Route } from '../../policy/types.js';
import type { Reason } from '../../policy/reasons.js';

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

export interface DeciderInput {
  gate: string;
  subject: string | null;
  surface: string;
  action: string;
  request: {
    method: string; url: string; host: string; path: string;
    query_sha256: string | null; body_sha256: string | null; idempotency_key: string | null;
  };
  permit: Record<string, unknown> | null;
}

export type DeciderAnswer =
  | { decision: 'PERMIT'; reason: 'DECIDER_PERMIT'; detail: string }
  | { decision: 'DENY'; reason: 'DECIDER_DENY'; detail: string }
  | { decision: 'SILENCE'; reason: 'DECIDER_TIMEOUT' | 'DECIDER_ERROR'; detail: string };

export interface DeciderPort {
  ask(input: DeciderInput): Promise<DeciderAnswer>;
}

export interface PausePort {
  /** Re-asks `attempt` while the answer is SILENCE, for at most `maxMs`; returns the last answer. */
  hold(maxMs: number, first: DeciderAnswer, attempt: () => Promise<DeciderAnswer>): Promise<DeciderAnswer>;
}
