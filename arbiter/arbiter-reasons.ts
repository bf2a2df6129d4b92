/**
 * The closed set of answers the arbiter gives besides PERMIT and PENDING (SPEC §12), in one
 * registry in the style of policy/reasons.ts: each code with its HTTP status and problem
 * title. The codes shared with the gate (ROUTE_UNMATCHED, DECIDER_ERROR, …) mean the same.
 */
export interface ArbiterReasonInfo {
  status: number;
  title: string;
}

const r = (status: number, title: string): ArbiterReasonInfo => ({ status, title });

export const ARBITER_REASONS = Object.freeze({
  UNAUTHENTICATED: r(401, 'The caller could not be authenticated'),
  NO_GRANT: r(403, 'No grant allows this caller this action'),
  ROUTE_UNMATCHED: r(403, 'No route matches this request'),
  ROUTE_DENY: r(403, 'The route denies this action'),
  DECIDER_DENY: r(403, 'The decider denied this request'),
  APPROVAL_DENIED: r(403, 'An approver denied this request'),
  APPROVAL_EXPIRED: r(403, 'Nobody decided this request in time'),
  REQUEST_INVALID: r(403, 'The permit request is malformed'),
  RATE_LIMITED: r(429, 'Too many permits for this subject and grant'),
  DECIDER_TIMEOUT: r(503, 'The decider did not answer in time'),
  DECIDER_ERROR: r(503, 'The decider could not be asked'),
  RECEIPT_UNAVAILABLE: r(503, 'The arbiter log cannot be written'),
  KEYS_UNAVAILABLE: r(503, 'No signing key is available'),
  // As the gate's (SPEC §7): no route maps loaded, or a bundle past max_stale.
  POLICY_UNAVAILABLE: r(503, 'No fresh route maps are loaded'),
  INTERNAL_ERROR: r(503, 'The arbiter failed while deciding'),
  // Answers of the approver endpoints.
  NOT_AN_APPROVER: r(403, 'This token is not an approver\'s'),
  SELF_APPROVAL: r(403, 'A caller can never approve its own request'),
  NOT_FOUND: r(404, 'No such request'),
  ALREADY_DECIDED: r(409, 'This request is no longer waiting'),
  ALREADY_VOTED: r(409, 'This approver has already decided'),
} as const satisfies Record<string, ArbiterReasonInfo>);

export type ArbiterReason = keyof typeof ARBITER_REASONS;

/** An answer as the HTTP layer writes it. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** The problem+json answer (SPEC §7 shape) for a refusal; 429 and 503 carry Retry-After. */
export function problem(reason: ArbiterReason, detail: string, extra: Record<string, unknown> = {}, retryAfterS = 1): Answer {
  const info = ARBITER_REASONS[reason];
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (info.status === 429 || info.status === 503) headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterS)));
  return {
    status: info.status,
    headers,
    body: { type: `urn:egress-gate:reason:${reason}`, title: info.title, status: info.status, detail, decision: info.status === 503 ? 'SILENCE' : 'DENY', reason, ...extra },
  };
}
