/**
 * The bodies of decision and outcome entries (SPEC §9), as pure functions: what record.ts
 * appends. Only digests of queries and bodies, never header values, query strings, bodies,
 * permits or secrets (the credential's name only).
 */
import type { CompiledPolicy, Decision, JsonRpcCall, NormalizedRequest } from '../../policy/types.js';

export interface DecisionRecordInput {
  policy?: Pick<CompiledPolicy, 'version' | 'digest'>;
  request?: NormalizedRequest;
  /** When the request could not be normalized: its method only. */
  method?: string;
  querySha256?: string;
  bodySha256?: string;
  idempotencyKey?: string;
  /** The JSON-RPC request the body held, when routes chose by it (SPEC §4). */
  jsonrpc?: JsonRpcCall;
  subject?: string;
  verdict: { decision: Decision; enforced: boolean };
  /** The name of the secret set on PERMIT, if any. */
  credential?: string;
  /** The permit's jti was claimed (spent) by this attempt: rebuilt as spent after a restart. */
  spent?: boolean;
}

/** The body of a `decision` entry. */
export function decisionReceipt(i: DecisionRecordInput): Record<string, unknown> {
  const d = i.verdict.decision;
  return {
    kind: 'decision',
    policy: i.policy ? { version: i.policy.version, digest: i.policy.digest } : null,
    request: i.request
      ? {
          method: i.request.method,
          url: i.request.url,
          query_sha256: i.querySha256 ?? null,
          body_sha256: i.bodySha256 ?? null,
          idempotency_key: i.idempotencyKey ?? null,
        }
      : { method: i.method ?? null, url: null, query_sha256: null, body_sha256: null, idempotency_key: null },
    jsonrpc: i.jsonrpc ? { method: i.jsonrpc.method, tool: i.jsonrpc.tool ?? null } : null,
    subject: i.subject ?? null,
    surface: d.surface ?? null,
    action: d.action ?? null,
    decision: d.decision,
    reason: d.reason,
    enforced: i.verdict.enforced,
    permit: d.permit ? { iss: d.permit.iss ?? null, kid: d.permit.kid ?? null, jti: d.permit.jti ?? null, sha256: d.permit.sha256, exp: d.permit.exp ?? null, ...(i.spent ? { spent: true } : {}) } : null,
    txn: d.permit?.txn ?? null,
    exception: d.exception ?? null,
    retry_of: d.retryOf ?? null,
    credential: i.credential ?? null,
  };
}

export interface OutcomeRecordInput {
  of: string;
  status: number | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  error?: string;
}

/** The body of an `outcome` entry. */
export function outcomeReceipt(o: OutcomeRecordInput): Record<string, unknown> {
  return {
    kind: 'outcome',
    of: o.of,
    status: o.status,
    bytes_up: o.bytesUp,
    bytes_down: o.bytesDown,
    duration_ms: Math.round(o.durationMs * 1000) / 1000,
    error: o.error ?? null,
  };
}
