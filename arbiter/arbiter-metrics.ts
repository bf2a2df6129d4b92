/** Prometheus metrics of the arbiter, one registry per instance. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface ArbiterMetrics {
  registry: Registry;
  answers: Counter<'decision' | 'reason'>;
  pending: Gauge;
  /** Effective break-glass grants: nonzero is an emergency in progress. */
  breakGlass: Gauge;
  /** Route-map reloads, as the gate's `egress_gate_reloads_total`. */
  reloads: Counter<'result'>;
  policyStale: Gauge;
}

/** `staleSeconds`: seconds since the route maps were last confirmed (0 for files). */
export function createArbiterMetrics(pendingNow: () => number, staleSeconds: () => number): ArbiterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'egress_arbiter_process_' });
  return {
    registry,
    answers: new Counter({ name: 'egress_arbiter_answers_total', help: 'Permit answers by decision and reason', labelNames: ['decision', 'reason'], registers: [registry] }),
    pending: new Gauge({ name: 'egress_arbiter_pending_requests', help: 'Permit requests waiting for approvers', registers: [registry], collect() { this.set(pendingNow()); } }),
    breakGlass: new Gauge({ name: 'egress_arbiter_break_glass_active', help: 'Break-glass grants in effect', registers: [registry] }),
    reloads: new Counter({ name: 'egress_arbiter_reloads_total', help: 'Route-map reloads by result', labelNames: ['result'], registers: [registry] }),
    policyStale: new Gauge({ name: 'egress_arbiter_policy_stale_seconds', help: 'Seconds since the route maps were last confirmed (0 for files)', registers: [registry], collect() { this.set(staleSeconds()); } }),
  };
}
