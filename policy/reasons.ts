/**
 * The closed set of decisions and reason codes of SPEC §7. Every decision the gate makes
 * names exactly one of these; nothing matches on message text.
 */
export const PERMIT_REASONS = ['PERMIT_VALID', 'NO_PERMIT_REQUIRED', 'DECIDER_PERMIT', 'EXCEPTION'] as const;

export const DENY_REASONS = [
  'ROUTE_UNMATCHED', 'ROUTE_DENY', 'PERMIT_MISSING', 'PERMIT_MALFORMED', 'PERMIT_SIGNATURE_INVALID',
  'PERMIT_ALG_REJECTED', 'PERMIT_TYPE_INVALID', 'PERMIT_ISSUER_UNTRUSTED', 'PERMIT_AUDIENCE_MISMATCH',
  'PERMIT_SUBJECT_MISMATCH', 'PERMIT_EXPIRED', 'PERMIT_NOT_YET_VALID', 'PERMIT_TTL_TOO_LONG',
  'PERMIT_SCOPE_MISMATCH', 'PERMIT_BINDING_MISMATCH', 'PERMIT_REPLAYED', 'PERMIT_IN_FLIGHT', 'DECIDER_DENY',
  'DESTINATION_PRIVATE', 'TLS_SNI_MISMATCH', 'REQUEST_INVALID', 'BODY_TOO_LARGE',
] as const;

export const SILENCE_REASONS = [
  'POLICY_UNAVAILABLE', 'KEYS_UNAVAILABLE', 'DECIDER_TIMEOUT', 'DECIDER_ERROR', 'REPLAY_STORE_UNAVAILABLE',
  'RECEIPT_UNAVAILABLE', 'INTERNAL_ERROR',
] as const;

export type PermitReason = (typeof PERMIT_REASONS)[number];
export type DenyReason = (typeof DENY_REASONS)[number];
export type SilenceReason = (typeof SILENCE_REASONS)[number];
export type Reason = PermitReason | DenyReason | SilenceReason;
export type DecisionKind = 'PERMIT' | 'DENY' | 'SILENCE';

const KIND = new Map<Reason, DecisionKind>([
  ...PERMIT_REASONS.map((r) => [r, 'PERMIT'] as const),
  ...DENY_REASONS.map((r) => [r, 'DENY'] as const),
  ...SILENCE_REASONS.map((r) => [r, 'SILENCE'] as const),
]);

/** The decision a reason belongs to. A reason never belongs to two decisions. */
export function decisionOf(reason: Reason): DecisionKind {
  const k = KIND.get(reason);
  if (!k) throw new TypeError(`unknown reason ${String(reason)}`);
  return k;
}

export function isReason(s: unknown): s is Reason {
  return typeof s === 'string' && KIND.has(s as Reason);
}
