/**
 * The one place that decides what an answer says (SPEC §7): the status and problem+json of a
 * blocked request, the upstream-failure answer after a PERMIT, and the Egress-* headers of
 * every answer — forwarded, tunnelled, upgraded or blocked. Statuses and titles come from
 * the reason registry (policy/reasons.ts); write-raw.ts puts raw answers on the wire.
 */
import type { ServerResponse } from 'node:http';
import { constants as h2c, Http2ServerResponse } from 'node:http2';
import type { Decision } from '../../policy/types.js';
import { REASONS } from '../../policy/reasons.js';
import type { Verdict } from '../pipeline/decide.js';
import { lingerIfBodyUnread } from './linger.js';

/** HTTP status for a blocked decision. */
export function statusFor(d: Pick<Decision, 'reason'>): number {
  return REASONS[d.reason].status;
}

/** Seconds a client should wait before retrying a SILENCE. */
const RETRY_AFTER_S = 1;

export interface BlockedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Sent after the body (a gRPC status). */
  trailers?: Record<string, string>;
}

/** An agent's answer: HTTP/1.1 (node:http), or an HTTP/2 stream (node:http2's compatibility API). */
export type AgentResponse = ServerResponse | Http2ServerResponse;

/** gRPC status codes of a blocked call (SPEC §7): PERMISSION_DENIED for DENY, UNAVAILABLE for SILENCE. */
const GRPC_STATUS = { DENY: '7', SILENCE: '14' } as const;

/** A blocked request is answered as gRPC when it is a gRPC call: HTTP/2 with content-type application/grpc… (SPEC §7). */
export function isGrpcCall(h2: boolean | undefined, contentType: string | string[] | undefined): boolean {
  return h2 === true && typeof contentType === 'string' && /^application\/grpc(?:[+;]|$)/i.test(contentType);
}

/**
 * The gRPC answer to a blocked call: HTTP 200, the Egress-* headers, no message, and trailers
 * `grpc-status` 7 (DENY) or 14 (SILENCE) with `grpc-message` the reason code — and the
 * Egress-Reason and Egress-Receipt again, where a gRPC client reads metadata of a failed call.
 */
export function grpcBlockedResponse(d: Decision, receiptId: string | undefined): BlockedResponse {
  return grpcFailure(GRPC_STATUS[d.decision === 'SILENCE' ? 'SILENCE' : 'DENY'], d.reason, d, receiptId);
}

/**
 * The gRPC answer to a permitted call whose upstream failed or timed out (the 502/504 of
 * {@link upstreamFailureResponse}): `grpc-status` 14 UNAVAILABLE, as gRPC maps a proxy's 502
 * and 504, with `grpc-message` UPSTREAM_ERROR or UPSTREAM_TIMEOUT; the Egress-* headers name
 * the PERMIT and its receipt.
 */
export function grpcUpstreamFailureResponse(d: Decision, receiptId: string, timedOut: boolean): BlockedResponse {
  return grpcFailure('14', timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR', d, receiptId);
}

function grpcFailure(status: string, message: string, d: Decision, receiptId: string | undefined): BlockedResponse {
  const egress: Record<string, string> = { 'egress-decision': d.decision, 'egress-reason': d.reason };
  if (receiptId) egress['egress-receipt'] = receiptId;
  return {
    status: 200,
    headers: { 'content-type': 'application/grpc', ...egress },
    body: '',
    trailers: { 'grpc-status': status, 'grpc-message': message, ...egress },
  };
}

/**
 * The Egress-* headers of an answer the gate let through (forwarded, a tunnel's 200, a 101):
 * the decision and its receipt, and under report mode `Egress-Enforced: false` with the
 * reason that would have applied (SPEC §8).
 */
export function egressHeaders(v: Pick<Verdict, 'decision' | 'enforced'>, receiptId: string): Record<string, string> {
  const h: Record<string, string> = { 'egress-decision': v.decision.decision, 'egress-receipt': receiptId };
  if (!v.enforced) { h['egress-enforced'] = 'false'; h['egress-reason'] = v.decision.reason; }
  return h;
}

function problem(status: number, fields: Record<string, unknown>, d: Decision, receiptId: string | undefined, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ...fields,
    status,
    detail: d.detail,
    decision: d.decision,
    reason: d.reason,
    ...(receiptId ? { receipt: receiptId } : {}),
    ...(d.surface ? { surface: d.surface } : {}),
    ...(d.action ? { action: d.action } : {}),
    ...extra,
  });
}

/**
 * The denials an agent can cure by asking the permit authority for a (new) permit: a missing,
 * expired, replayed or mis-bound permit (SPEC §7). Their answers name `permits.request_url`.
 */
const CURABLE_BY_A_PERMIT: ReadonlySet<string> = new Set(['PERMIT_MISSING', 'PERMIT_EXPIRED', 'PERMIT_REPLAYED', 'PERMIT_BINDING_MISMATCH']);

/**
 * Builds the blocked answer for a DENY or SILENCE decision. `receiptId` is absent only when no
 * receipt could be written. `status` overrides the registry only for a client cut at
 * header_timeout (408), which HTTP clients understand better than a 400. `permitRequest` is
 * `permits.request_url`, named as `permit_request` where a permit would cure the denial.
 */
export function blockedResponse(d: Decision, receiptId: string | undefined, status = statusFor(d), permitRequest?: string): BlockedResponse {
  const info = REASONS[d.reason];
  const extra = permitRequest !== undefined && CURABLE_BY_A_PERMIT.has(d.reason) ? { permit_request: permitRequest } : {};
  const body = problem(status, { type: `urn:egress-gate:reason:${d.reason}`, title: info.title }, d, receiptId, extra);
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
  const body = problem(status, {
    type: `urn:egress-gate:upstream:${timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR'}`,
    title: timedOut ? 'The upstream did not answer in time' : 'The upstream could not be reached',
  }, { ...d, detail }, receiptId);
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

/**
 * Writes a prepared answer; `close` asks the client to drop the connection (unread body, broken
 * framing). On HTTP/2 the stream alone ends: an unread body is cut after the answer with
 * RST_STREAM NO_ERROR (RFC 9113 §8.1), the connection's other streams go on.
 */
export function send(res: AgentResponse, r: BlockedResponse, close = false): void {
  if (res instanceof Http2ServerResponse) { sendH2(res, r, close); return; }
  if (res.headersSent) { res.destroy(); return; }
  if (close) {
    r.headers.connection = 'close';
    lingerIfBodyUnread(res);
  }
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}

function sendH2(res: Http2ServerResponse, r: BlockedResponse, close: boolean): void {
  const stream = res.stream;
  if (res.headersSent) { stream.close(h2c.NGHTTP2_INTERNAL_ERROR); return; }
  res.writeHead(r.status, r.headers);
  const cut = (): void => { if (close && !res.req.complete && !stream.closed) stream.close(h2c.NGHTTP2_NO_ERROR); };
  if (r.trailers) {
    res.addTrailers(r.trailers);
    // The compatibility layer's own 'wantTrailers' listener submits the trailers, but a
    // RST_STREAM submitted in the same turn is framed before them (the client would see a
    // call with no gRPC status): the cut waits until the session has written its pending
    // frames, which it does in its native immediate, before the next JS immediate.
    stream.once('wantTrailers', () => setImmediate(cut));
    res.end(r.body);
  } else {
    res.end(r.body, cut);
  }
}
