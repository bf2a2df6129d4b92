/**
 * Stage 4, decide: whether the authorized decision is enforced (SPEC §8). Enforcement is the
 * default; report mode is the one declared exception, and it is never applied to a route
 * with `must_enforce`, nor to requests whose forwarding could not be sound whatever the mode.
 */
import type { Decision, GateMode, Route } from '../../policy/types.js';
import type { Reason } from '../../policy/reasons.js';

export interface Verdict {
  decision: Decision;
  /** false only in report mode. */
  enforced: boolean;
  /** The request goes upstream: a PERMIT, or any decision not enforced. */
  forward: boolean;
}

/**
 * Reasons that are never forwarded, even in report mode: the request could not be read
 * unambiguously, its destination is one the network rules forbid, or the decision was not
 * recorded — report mode relaxes authorization, not parsing, network safety or the receipt rule.
 */
const NEVER_FORWARDED: ReadonlySet<Reason> = new Set<Reason>([
  'REQUEST_INVALID', 'BODY_TOO_LARGE', 'DESTINATION_PRIVATE', 'TLS_SNI_MISMATCH', 'RECEIPT_UNAVAILABLE', 'PERMIT_IN_FLIGHT',
]);

export function modeFor(route: Route | undefined, gateMode: GateMode): GateMode {
  if (route?.mustEnforce) return 'enforce';
  return route?.mode ?? gateMode;
}

export function decide(decision: Decision, gateMode: GateMode): Verdict {
  if (decision.decision === 'PERMIT') return { decision, enforced: true, forward: true };
  const mode = modeFor(decision.route, gateMode);
  if (mode === 'report' && !NEVER_FORWARDED.has(decision.reason)) return { decision, enforced: false, forward: true };
  return { decision, enforced: true, forward: false };
}
