/**
 * Test kit for the pipeline's unit tests: a real DecisionChain and Recorder over compiled
 * route values, an in-memory receipt sink that can be made to fail, a silent logger and the
 * gate's own metrics. Every seam is the one the gate wires in proxy/gate.ts.
 */
import type { DecisionHub } from '../../../../proxy/observe/console/decision-hub.js';
import { compilePolicy } from '../../../../policy/compile-policy.js';
import type { CompiledPolicy, GateConfig, Route } from '../../../../policy/types.js';
import { DecisionChain, type ChainDeps } from '../../../../proxy/pipeline/decision-chain.js';
import { Recorder, type ReceiptSink } from '../../../../proxy/pipeline/record.js';
import type { Resolution } from '../../../../proxy/pipeline/resolve-destination.js';
import type { ReplayPort } from '../../../../proxy/pipeline/ports.js';
import { createLogger } from '../../../../runtime/logger.js';
import { createMetrics } from '../../../../proxy/observe/metrics.js';
import type { Arrival, RequestHead } from '../../../../proxy/pipeline/parse-request.js';
import { bufferBody } from '../../../../proxy/pipeline/read-body.js';

export const NOW = Date.parse('2026-06-01T00:00:00Z');

export function policyOf(routes: Route[]): CompiledPolicy {
  return compilePolicy({ routes, exceptions: [], sources: [] }, { nowMs: NOW });
}

export const config = {
  gate: { id: 'gate-u', subject: 'agent:u', mode: 'enforce' },
  permits: { header: 'Egress-Permit' },
  limits: { maxBoundBody: 64 },
} as unknown as GateConfig;

/** Entries appended, in order; `fail` makes appends reject as an unwritable log does. */
export class MemorySink implements ReceiptSink {
  readonly entries: Record<string, unknown>[] = [];
  fail = false;
  async append(body: Record<string, unknown>): Promise<{ id: string; seq: number }> {
    if (this.fail) throw new Error('receipt log not writable');
    this.entries.push(body);
    return { id: `r${this.entries.length}`, seq: this.entries.length - 1 };
  }
}

/** A replay store that records finish() calls. */
export function replaySpy(): ReplayPort & { finished: [string, string][] } {
  const finished: [string, string][] = [];
  return {
    finished,
    claim: async () => ({ ok: true, attempt: 1 }),
    finish: async (jti, id) => { finished.push([jti, id]); },
  };
}

export function chainWith(o: { policy: () => CompiledPolicy | undefined; resolve?: (host: string) => Resolution; extra?: Partial<ChainDeps> }): DecisionChain {
  return new DecisionChain({
    config, gateId: 'gate-u', subject: 'agent:u', clock: () => NOW, log: createLogger({ level: 'silent' }),
    policy: o.policy,
    resolver: { resolve: async (r) => (o.resolve ? o.resolve(r.host) : { ok: true, address: '192.0.2.10', family: 4 }) },
    ...o.extra,
  });
}

export function recorderWith(sink: ReceiptSink, replay?: ReplayPort, hub?: DecisionHub): { recorder: Recorder; metrics: ReturnType<typeof createMetrics> } {
  const metrics = createMetrics();
  return { recorder: new Recorder({ config, receipts: sink, replay, metrics, log: createLogger({ level: 'silent' }), hub }), metrics };
}

/** A request head as Node's parser would give it. */
export function head(method: string, url: string, headers: Record<string, string> = {}): RequestHead {
  const host = /^https?:\/\/([^/]+)/.exec(url)?.[1];
  const raw = [...(host ? ['Host', host] : []), ...Object.entries(headers).flat()];
  return { method, url, rawHeaders: raw, httpVersion: '1.1' };
}

export const PROXY: Arrival = { scheme: 'http' };
export const noBody = bufferBody(undefined);
