/**
 * The closed set of decisions and reason codes of SPEC §7, in one registry: each reason with
 * the decision it belongs to, the HTTP status a blocked request gets, and the problem title.
 * Every decision the gate makes names exactly one of these; nothing matches on message text.
 * A test fails when a reason of SPEC §7 is missing here or undocumented in the README.
 */
export type DecisionKind = 'PERMIT' | 'DENY' | 'SILENCE';

export interface ReasonInfo {
  decision: DecisionKind;
  /** The status of a blocked answer (PERMIT reasons: 200, never used for a blocked answer). */
  status: number;
  /** The problem+json `title`: one sentence, the same for every request with this reason. */
  title: string;
}

const permit = (title: string) => ({ decision: 'PERMIT', status: 200, title }) as const;
const deny = (title: string, status = 403) => ({ decision: 'DENY', status, title }) as const;
const silence = (title: string) => ({ decision: 'SILENCE', status: 503, title }) as const;

/** The registry. Order within each decision is SPEC §7's. */
export const REASONS = Object.freeze({
  PERMIT_VALID: permit('The permit is valid'),
  NO_PERMIT_REQUIRED: permit('The route needs no permit'),
  DECIDER_PERMIT: permit('The decider permitted this request'),
  EXCEPTION: permit('A policy exception applies'),

  ROUTE_UNMATCHED: deny('No route matches this request'),
  ROUTE_DENY: deny('The route denies this action'),
  PERMIT_MISSING: deny('This action needs a permit'),
  PERMIT_MALFORMED: deny('The permit is malformed'),
  PERMIT_SIGNATURE_INVALID: deny('The permit signature does not verify'),
  PERMIT_ALG_REJECTED: deny('The permit algorithm is not allowed'),
  PERMIT_TYPE_INVALID: deny('The permit type is not permit+jwt'),
  PERMIT_ISSUER_UNTRUSTED: deny('The permit issuer is not trusted'),
  PERMIT_AUDIENCE_MISMATCH: deny('The permit is for another gate'),
  PERMIT_SUBJECT_MISMATCH: deny('The permit is for another subject'),
  PERMIT_EXPIRED: deny('The permit has expired'),
  PERMIT_NOT_YET_VALID: deny('The permit is not valid yet'),
  PERMIT_TTL_TOO_LONG: deny('The permit lives longer than allowed'),
  PERMIT_SCOPE_MISMATCH: deny('The permit is for another surface or action'),
  PERMIT_BINDING_MISMATCH: deny('The permit is bound to another request'),
  PERMIT_REPLAYED: deny('The permit was already used'),
  PERMIT_IN_FLIGHT: deny('Another attempt with this permit is in flight', 409),
  DECIDER_DENY: deny('The decider denied this request'),
  DESTINATION_PRIVATE: deny('The destination is a private address'),
  TLS_SNI_MISMATCH: deny('The TLS server name differs from the CONNECT host'),
  REQUEST_INVALID: deny('The request is malformed or ambiguous', 400),
  BODY_TOO_LARGE: deny('The body is too large to bind to a permit', 413),

  POLICY_UNAVAILABLE: silence('No fresh policy is available'),
  KEYS_UNAVAILABLE: silence('No issuer keys are available'),
  DECIDER_TIMEOUT: silence('The decider did not answer in time'),
  DECIDER_ERROR: silence('The decider could not be asked'),
  REPLAY_STORE_UNAVAILABLE: silence('The replay store cannot be reached'),
  RECEIPT_UNAVAILABLE: silence('The receipt log cannot be written'),
  INTERNAL_ERROR: silence('The gate failed while deciding'),
} as const satisfies Record<string, ReasonInfo>);

export type Reason = keyof typeof REASONS;
type ReasonsOf<K extends DecisionKind> = { [R in Reason]: (typeof REASONS)[R]['decision'] extends K ? R : never }[Reason];
export type PermitReason = ReasonsOf<'PERMIT'>;
export type DenyReason = ReasonsOf<'DENY'>;
export type SilenceReason = ReasonsOf<'SILENCE'>;

const ALL = Object.keys(REASONS) as Reason[];
export const PERMIT_REASONS: readonly PermitReason[] = ALL.filter((r): r is PermitReason => REASONS[r].decision === 'PERMIT');
export const DENY_REASONS: readonly DenyReason[] = ALL.filter((r): r is DenyReason => REASONS[r].decision === 'DENY');
export const SILENCE_REASONS: readonly SilenceReason[] = ALL.filter((r): r is SilenceReason => REASONS[r].decision === 'SILENCE');

/** The decision a reason belongs to. A reason never belongs to two decisions. */
export function decisionOf(reason: Reason): DecisionKind {
  const info = (REASONS as Record<string, ReasonInfo | undefined>)[reason];
  if (!info) throw new TypeError(`unknown reason ${String(reason)}`);
  return info.decision;
}

/** True for a reason code of the registry. */
export function isReason(s: unknown): s is Reason {
  return typeof s === 'string' && Object.hasOwn(REASONS, s);
}
