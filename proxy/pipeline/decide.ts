/**
 * Stage 4, decide: whether the authorized decision is enforced (SPEC §8). Enforcement is the
 * default; report mode is the one declared exception, and it is never applied to a route
 * with `must_enforce`, nor to requests whose forwarding could not be sound whatever the mode.
 */
import type { CompiledPolicy, Decision, GateMode, Route } from '../../policy/types.js';
import type { Reason } from '../../policy/reasons.js';

export interface Verdict {
  decision: Decision;
  /** false only in report mode: the receipt says `enforced: false`, the response `Egress-Enforced: false`. */
  enforced: boolean;
  /** The request goes upstream: an enforced PERMIT, or any decision under report mode. */
  forward: boolean;
}

/**
 * Reasons that are never forwarded, even in report mode: the request could not be read
 * unambiguously, its destination is one the network rules forbid, the decision was not
 * recorded, or no policy is in effect (so whether the route has `must_enforce` is unknown) —
 * report mode relaxes authorization, not parsing, network safety or the receipt rule.
 */
const NEVER_FORWARDED: ReadonlySet<Reason> = new Set<Reason>([
  'REQUEST_INVALID', 'BODY_TOO_LARGE', 'DESTINATION_PRIVATE', 'TLS_SNI_MISMATCH', 'RECEIPT_UNAVAILABLE', 'PERMIT_IN_FLIGHT',
  'POLICY_UNAVAILABLE', 'INTERNAL_ERROR',
]);

/** The mode a request on `route` is decided in: `must_enforce` wins over any report mode. */
export function modeFor(route: Route | undefined, gateMode: GateMode): GateMode {
  if (route?.mustEnforce) return 'enforce';
  return route?.mode ?? gateMode;
}

/**
 * Enforced: only PERMIT is forwarded. Report mode: every decision is recorded with
 * `enforced: false` (PERMIT included: nothing was enforced) and forwarded, except the
 * NEVER_FORWARDED reasons, which stay enforced.
 */
export function decide(decision: Decision, gateMode: GateMode): Verdict {
  const mode = modeFor(decision.route, gateMode);
  if (mode === 'report' && !NEVER_FORWARDED.has(decision.reason)) return { decision, enforced: false, forward: true };
  return { decision, enforced: true, forward: decision.decision === 'PERMIT' };
}

/** Routes of `p` in report mode by their own `mode` (a `must_enforce` route never is). */
export function reportRoutes(p: CompiledPolicy | undefined): Route[] {
  return (p?.routes ?? []).filter((r) => r.mode === 'report' && !r.mustEnforce);
}
