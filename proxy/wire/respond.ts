/**
 * The one place that turns a decision into HTTP (SPEC §7): statuses, problem+json bodies
 * and the Egress-* headers. Nothing else in the gate writes a blocked response.
 */
import type { ServerResponse } from 'node:http';
import type { Decision } from '../../policy/types.js';
import type { Reason } from '../../policy/reasons.js';

const TITLES: Partial<Record<Reason, string>> = {
  ROUTE_UNMATCHED: 'No route matches this request',
  ROUTE_DENY: 'The route denies this action',
  PERMIT_MISSING: 'This action needs a permit',
  REQUEST_INVALID: 'The request is malformed or ambiguous',
  BODY_TOO_LARGE: 'The body is too large to bind to a permit',
  PERMIT_IN_FLIGHT: 'Another attempt with this permit is in flight',
  RECEIPT_UNAVAILABLE: 'The receipt log cannot be written',
  INTERNAL_ERROR: 'The gate failed while deciding',
  DECIDER_TIMEOUT: 'The decider did not answer in time',
  DECIDER_ERROR: 'The decider could not be asked',
  KEYS_UNAVAILABLE: 'No issuer keys are available',
  POLICY_UNAVAILABLE: 'No fresh policy is available',
  REPLAY_STORE_UNAVAILABLE: 'The replay store cannot be reached',
  DESTINATION_PRIVATE: 'The destination is a private address',
};

/** HTTP status for a blocked decision. */
export function statusFor(d: Pick<Decision, 'decision' | 'reason'>): number {
  if (d.decision === 'SILENCE') return 503;
  switch (d.reason) {
    case 'PERMIT_IN_FLIGHT': return 409;
    case 'BODY_TOO_LARGE': return 413;
    case 'REQUEST_INVALID': return 400;
    default: return 403;
  }
}

/** Seconds a client should wait before retrying a SILENCE. */
const RETRY_AFTER_S = 1;

export interface BlockedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Builds the blocked answer for a DENY or SILENCE decision. `receiptId` is absent only when no
 * receipt could be written. `status` overrides the table only for a client cut at
 * header_timeout (408), which HTTP clients understand better than a 400.
 */
export function blockedResponse(d: Decision, receiptId: string | undefined, status = statusFor(d)): BlockedResponse {
  const problem: Record<string, unknown> = {
    type: `urn:egress-gate:reason:${d.reason}`,
    title: TITLES[d.reason] ?? d.reason.toLowerCase().replaceAll('_', ' '),
    status,
    detail: d.detail,
    decision: d.decision,
    reason: d.reason,
    ...(receiptId ? { receipt: receiptId } : {}),
    ...(d.surface ? { surface: d.surface } : {}),
    ...(d.action ? { action: d.action } : {}),
  };
  const body = JSON.stringify(problem);
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    'egress-decision': d.decision,
    'egress-reason': d.reason,
  };
  if (receiptId) headers['egress-receipt'] = receiptId;
  if (d.decision === 'SILENCE') headers['retry-after'] = String(RETRY_AFTER_S);
  return { status, headers, body };
}

/** An upstream failure after PERMIT: 502, or 504 on timeout (SPEC §7). */
export function upstreamFailureResponse(d: Decision, receiptId: string, timedOut: boolean, detail: string): BlockedResponse {
  const status = timedOut ? 504 : 502;
  const body = JSON.stringify({
    type: `urn:egress-gate:upstream:${timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR'}`,
    title: timedOut ? 'The upstream did not answer in time' : 'The upstream could not be reached',
    status, detail, decision: d.decision, reason: d.reason, receipt: receiptId,
    ...(d.surface ? { surface: d.surface } : {}),
    ...(d.action ? { action: d.action } : {}),
  });
  return {
    status,
    headers: {
      'content-type': 'application/problem+json',
      'content-length': String(Buffer.byteLength(body)),
      'egress-decision': d.decision,
      'egress-reason': d.reason,
      'egress-receipt': receiptId,
    },
    body,
  };
}

/** Writes a prepared answer; `close` asks the client to drop the connection (unread body, broken framing). */
export function send(res: ServerResponse, r: BlockedResponse, close = false): void {
  if (res.headersSent) { res.destroy(); return; }
  if (close) r.headers.connection = 'close';
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}
