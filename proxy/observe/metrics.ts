/**
 * Prometheus metrics (SPEC §10), one registry per gate so tests can run several in a process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GateMetrics {
  registry: Registry;
  decisions: Counter<'decision' | 'reason' | 'surface' | 'action' | 'enforced'>;
  decisionDuration: Histogram;
  upstreamDuration: Histogram;
  policyInfo: Gauge<'version' | 'digest'>;
  policyStale: Gauge;
  reloads: Counter<'result'>;
  fsyncDuration: Histogram;
  receipts: Counter<'kind'>;
  parseErrors: Counter;
  /** HTTP/2 connections the gate closed, by cause (h2-sessions.ts: reset_flood, protocol_error, idle). */
  h2Closes: Counter<'cause'>;
  /** 1 for the gate (`scope="gate"`) and each route (`scope="route"`) in report mode (SPEC §8). */
  reportMode: Gauge<'scope' | 'surface' | 'action'>;
  /** Seconds since the receipt log's last commit (a new signed checkpoint); the console charts it. */
  lastCommitAge: Gauge;
  /** Sets where `egress_gate_policy_stale_seconds` reads from at each scrape. */
  setStaleSource(read: () => number): void;
  /** Sets where `egress_gate_receipt_last_commit_age_seconds` reads its seconds from (undefined: no commit yet, no sample). */
  setLastCommitSource(read: () => number | undefined): void;
}

/** A registry with every metric of SPEC §10. */
export function createMetrics(): GateMetrics {
  const registry = new Registry();
  // prom-client's default metrics are named process_… and nodejs_… already; the prefix is
  // only ours: egress_gate_process_cpu_user_seconds_total, egress_gate_nodejs_eventloop_lag_seconds.
  collectDefaultMetrics({ register: registry, prefix: 'egress_gate_' });
  let stale: () => number = () => 0;
  let lastCommit: () => number | undefined = () => undefined;
  const fast = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  return {
    registry,
    decisions: new Counter({ name: 'egress_gate_decisions_total', help: 'Decisions by decision, reason, surface, action and enforcement', labelNames: ['decision', 'reason', 'surface', 'action', 'enforced'], registers: [registry] }),
    decisionDuration: new Histogram({ name: 'egress_gate_decision_duration_seconds', help: 'Arrival to decision', buckets: fast, registers: [registry] }),
    upstreamDuration: new Histogram({ name: 'egress_gate_upstream_duration_seconds', help: 'Forwarded request duration upstream', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    policyInfo: new Gauge({ name: 'egress_gate_policy_info', help: 'The route-map version in effect', labelNames: ['version', 'digest'], registers: [registry] }),
    policyStale: new Gauge({ name: 'egress_gate_policy_stale_seconds', help: 'Seconds since the policy source was last confirmed', registers: [registry], collect() { this.set(stale()); } }),
    reloads: new Counter({ name: 'egress_gate_reloads_total', help: 'Route-map reloads by result', labelNames: ['result'], registers: [registry] }),
    fsyncDuration: new Histogram({ name: 'egress_gate_receipt_fsync_duration_seconds', help: 'Receipt log fsync duration', buckets: fast, registers: [registry] }),
    receipts: new Counter({ name: 'egress_gate_receipts_total', help: 'Receipts written by kind', labelNames: ['kind'], registers: [registry] }),
    parseErrors: new Counter({ name: 'egress_gate_parse_errors_total', help: 'Requests the HTTP parser refused', registers: [registry] }),
    h2Closes: new Counter({ name: 'egress_gate_h2_connections_closed_total', help: 'HTTP/2 connections the gate closed, by cause', labelNames: ['cause'], registers: [registry] }),
    reportMode: new Gauge({ name: 'egress_gate_report_mode', help: 'Report mode (decisions recorded, not enforced): the gate or a route', labelNames: ['scope', 'surface', 'action'], registers: [registry] }),
    lastCommitAge: new Gauge({
      name: 'egress_gate_receipt_last_commit_age_seconds', help: 'Seconds since the receipt log last committed (signed a new checkpoint)', registers: [registry],
      collect() { const age = lastCommit(); if (age === undefined) this.reset(); else this.set(Math.max(0, age)); },
    }),
    setStaleSource(read) { stale = read; },
    setLastCommitSource(read) { lastCommit = read; },
  };
}
