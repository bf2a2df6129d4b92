import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REASONS, type Reason } from '../../../../policy/reasons.js';
import type { Decision } from '../../../../policy/types.js';
import { blockedResponse, egressHeaders, grpcBlockedResponse, grpcUpstreamFailureResponse, isGrpcCall, statusFor, upstreamFailureResponse } from '../../../../proxy/wire/respond.js';

const d = (reason: Reason, extra: Partial<Decision> = {}): Decision => ({ decision: REASONS[reason].decision, reason, detail: `detail of ${reason}`, ...extra });

describe('respond: decisions to HTTP (SPEC §7)', () => {
  it('statusFor reads the registry', () => {
    assert.equal(statusFor(d('ROUTE_DENY')), 403);
    assert.equal(statusFor(d('PERMIT_IN_FLIGHT')), 409);
    assert.equal(statusFor(d('BODY_TOO_LARGE')), 413);
    assert.equal(statusFor(d('REQUEST_INVALID')), 400);
    assert.equal(statusFor(d('DECIDER_TIMEOUT')), 503);
  });

  it('a DENY is problem+json with the reason, receipt, surface and action, and Egress-* headers', () => {
    const r = blockedResponse(d('PERMIT_EXPIRED', { surface: 'payments', action: 'charge.create' }), 'rid-1');
    assert.equal(r.status, 403);
    assert.deepEqual(JSON.parse(r.body), {
      type: 'urn:egress-gate:reason:PERMIT_EXPIRED', title: REASONS.PERMIT_EXPIRED.title, status: 403, detail: 'detail of PERMIT_EXPIRED',
      decision: 'DENY', reason: 'PERMIT_EXPIRED', receipt: 'rid-1', surface: 'payments', action: 'charge.create',
    });
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.body)));
    assert.equal(r.headers['egress-decision'], 'DENY');
    assert.equal(r.headers['egress-reason'], 'PERMIT_EXPIRED');
    assert.equal(r.headers['egress-receipt'], 'rid-1');
    assert.equal(r.headers['retry-after'], undefined);
  });

  it('a SILENCE carries Retry-After; without a receipt there is no Egress-Receipt and no receipt field', () => {
    const r = blockedResponse(d('RECEIPT_UNAVAILABLE'), undefined);
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.headers['egress-receipt'], undefined);
    assert.equal('receipt' in JSON.parse(r.body), false);
  });

  it('permit_request names permits.request_url only for a missing, expired, replayed or mis-bound permit', () => {
    const url = 'http://127.0.0.1:8181/v1/permits';
    for (const reason of ['PERMIT_MISSING', 'PERMIT_EXPIRED', 'PERMIT_REPLAYED', 'PERMIT_BINDING_MISMATCH'] as const) {
      const r = blockedResponse({ decision: 'DENY', reason, detail: 'x' }, 'rid', undefined, url);
      assert.equal(JSON.parse(r.body).permit_request, url, reason);
    }
    for (const reason of ['ROUTE_DENY', 'PERMIT_SIGNATURE_INVALID', 'DECIDER_ERROR'] as const) {
      const r = blockedResponse({ decision: REASONS[reason].decision, reason, detail: 'x' }, 'rid', undefined, url);
      assert.equal(JSON.parse(r.body).permit_request, undefined, reason);
    }
    assert.equal(JSON.parse(blockedResponse({ decision: 'DENY', reason: 'PERMIT_MISSING', detail: 'x' }, 'rid').body).permit_request, undefined);
  });

  it('a status override (408 at header_timeout) is written in the status and the body', () => {
    const r = blockedResponse(d('REQUEST_INVALID'), 'rid', 408);
    assert.equal(r.status, 408);
    assert.equal(JSON.parse(r.body).status, 408);
  });

  it('an upstream failure after PERMIT is 502, or 504 on timeout, with the decision and receipt', () => {
    const ok = d('PERMIT_VALID');
    const r = upstreamFailureResponse(ok, 'rid', false, 'ECONNREFUSED');
    assert.equal(r.status, 502);
    assert.equal(JSON.parse(r.body).type, 'urn:egress-gate:upstream:UPSTREAM_ERROR');
    assert.equal(JSON.parse(r.body).detail, 'ECONNREFUSED');
    assert.equal(r.headers['egress-decision'], 'PERMIT');
    assert.equal(upstreamFailureResponse(ok, 'rid', true, 't').status, 504);
  });

  it('gRPC: a blocked call is 200 with grpc-status 7 (DENY) or 14 (SILENCE) and the reason; an upstream failure is 14 UPSTREAM_ERROR/UPSTREAM_TIMEOUT', () => {
    const deny = grpcBlockedResponse(d('ROUTE_DENY'), 'rid-4');
    assert.equal(deny.status, 200);
    assert.equal(deny.body, '');
    assert.deepEqual(deny.headers, { 'content-type': 'application/grpc', 'egress-decision': 'DENY', 'egress-reason': 'ROUTE_DENY', 'egress-receipt': 'rid-4' });
    assert.deepEqual(deny.trailers, { 'grpc-status': '7', 'grpc-message': 'ROUTE_DENY', 'egress-decision': 'DENY', 'egress-reason': 'ROUTE_DENY', 'egress-receipt': 'rid-4' });
    const silence = grpcBlockedResponse(d('RECEIPT_UNAVAILABLE'), undefined);
    assert.equal(silence.trailers?.['grpc-status'], '14');
    assert.equal(silence.trailers?.['egress-receipt'], undefined);
    const up = grpcUpstreamFailureResponse(d('NO_PERMIT_REQUIRED'), 'rid-5', false);
    assert.equal(up.status, 200);
    assert.deepEqual([up.trailers?.['grpc-status'], up.trailers?.['grpc-message'], up.headers['egress-decision'], up.headers['egress-receipt']], ['14', 'UPSTREAM_ERROR', 'PERMIT', 'rid-5']);
    assert.equal(grpcUpstreamFailureResponse(d('NO_PERMIT_REQUIRED'), 'rid-6', true).trailers?.['grpc-message'], 'UPSTREAM_TIMEOUT');
    assert.equal(isGrpcCall(true, 'application/grpc+proto'), true);
    assert.equal(isGrpcCall(true, 'application/grpc-web'), false);
    assert.equal(isGrpcCall(false, 'application/grpc'), false);
  });

  it('egressHeaders: decision and receipt; report mode adds Egress-Enforced: false and the reason', () => {
    assert.deepEqual(egressHeaders({ decision: d('PERMIT_VALID'), enforced: true }, 'r'), { 'egress-decision': 'PERMIT', 'egress-receipt': 'r' });
    assert.deepEqual(egressHeaders({ decision: d('PERMIT_MISSING'), enforced: false }, 'r'), { 'egress-decision': 'DENY', 'egress-receipt': 'r', 'egress-enforced': 'false', 'egress-reason': 'PERMIT_MISSING' });
  });
});
