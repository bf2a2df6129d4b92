/**
 * Every decision, whatever the path that made it (plain request, request inside a tunnel,
 * CONNECT, WebSocket upgrade), is counted in `egress_gate_decisions_total` and logged as one
 * canonical `egress.decision` line: PERMITs that were enforced at info, everything else at
 * warn, always with the receipt id (null only for RECEIPT_UNAVAILABLE).
 */
import type { Decision, JsonRpcCall } from '../../policy/types.js';
import type { Logger } from '../../runtime/logger.js';
import type { GateMetrics } from './metrics.js';

export interface DecisionContext {
  method: string;
  url: string | null;
  /** process.hrtime.bigint() at arrival, for the line's `ms`. */
  started?: bigint;
  /** The JSON-RPC call the body held, when routes chose by it. */
  jsonrpc?: JsonRpcCall;
}

/** Counts one decision and writes its canonical log line. */
export function announceDecision(
  deps: { metrics: GateMetrics; log: Logger },
  d: Decision, enforced: boolean, receipt: string | undefined, ctx: DecisionContext,
): void {
  deps.metrics.decisions.inc({ decision: d.decision, reason: d.reason, surface: d.surface ?? '', action: d.action ?? '', enforced: String(enforced) });
  const level = d.decision === 'PERMIT' && enforced ? 'info' : 'warn';
  if (!deps.log.isLevelEnabled(level)) return;
  const line = {
    msg: 'egress.decision', decision: d.decision, reason: d.reason, enforced, receipt: receipt ?? null,
    surface: d.surface ?? null, action: d.action ?? null, method: ctx.method, url: ctx.url,
    detail: d.detail, jti: d.permit?.jti ?? null,
    ...(ctx.jsonrpc ? { jsonrpc: { method: ctx.jsonrpc.method, tool: ctx.jsonrpc.tool ?? null } } : {}),
    ...(ctx.started !== undefined ? { ms: Number(process.hrtime.bigint() - ctx.started) / 1e6 } : {}),
  };
  deps.log[level](line);
}
