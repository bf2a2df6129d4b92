/** The bodies of decision and outcome entries (SPEC §9): digests only, never values. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decisionReceipt, outcomeReceipt } from '../../../../proxy/pipeline/receipt-entries.js';
import type { Decision, NormalizedRequest } from '../../../../policy/types.js';

const request: NormalizedRequest = { method: 'POST', scheme: 'https', host: 'api.test', port: 443, path: '/v1/charges', query: 'card=4242', url: 'https://api.test/v1/charges', hostIsIp: false };
const permitted: Decision = {
  decision: 'PERMIT', reason: 'PERMIT_VALID', detail: 'permit verified', surface: 'payments', action: 'charge.create',
  permit: { iss: 'https://arbiter.test', kid: 'k1', jti: 'j1', sha256: 'tok-sha', exp: 1700000000, txn: 'run-7' }, retryOf: 'r0',
};

describe('receipt entries', () => {
  it('a decision entry has every SPEC §9 field, the permit by digest, the credential by name', () => {
    const e = decisionReceipt({
      policy: { version: 'v1', digest: 'd1' }, request, querySha256: 'qh', bodySha256: 'bh', idempotencyKey: 'ik', subject: 'agent:x',
      verdict: { decision: permitted, enforced: true }, credential: 'stripe-live', spent: true,
    });
    assert.deepEqual(e, {
      kind: 'decision', policy: { version: 'v1', digest: 'd1' },
      request: { method: 'POST', url: 'https://api.test/v1/charges', query_sha256: 'qh', body_sha256: 'bh', idempotency_key: 'ik' },
      jsonrpc: null, subject: 'agent:x', surface: 'payments', action: 'charge.create', decision: 'PERMIT', reason: 'PERMIT_VALID', enforced: true,
      permit: { iss: 'https://arbiter.test', kid: 'k1', jti: 'j1', sha256: 'tok-sha', exp: 1700000000, spent: true },
      txn: 'run-7', exception: null, retry_of: 'r0', credential: 'stripe-live',
    });
    assert.ok(!JSON.stringify(e).includes('card=4242'));
  });

  it('a decision routed by its JSON-RPC body names the method and tool (null for a method without one)', () => {
    const verdict = { decision: permitted, enforced: true };
    assert.deepEqual(decisionReceipt({ request, verdict, jsonrpc: { method: 'tools/call', tool: 'create_issue', notification: false } }).jsonrpc, { method: 'tools/call', tool: 'create_issue' });
    assert.deepEqual(decisionReceipt({ request, verdict, jsonrpc: { method: 'notifications/initialized', notification: true } }).jsonrpc, { method: 'notifications/initialized', tool: null });
  });

  it('a request that could not be normalized keeps its method only', () => {
    const e = decisionReceipt({ method: 'GET', verdict: { decision: { decision: 'DENY', reason: 'REQUEST_INVALID', detail: 'x' }, enforced: true } });
    assert.deepEqual(e.request, { method: 'GET', url: null, query_sha256: null, body_sha256: null, idempotency_key: null });
    assert.equal(e.policy, null);
    assert.equal(e.permit, null);
  });

  it('an outcome entry names its decision and rounds the duration to µs', () => {
    assert.deepEqual(outcomeReceipt({ of: 'r1', status: 201, bytesUp: 10, bytesDown: 20, durationMs: 1.23456789 }), {
      kind: 'outcome', of: 'r1', status: 201, bytes_up: 10, bytes_down: 20, duration_ms: 1.235, error: null,
    });
  });
});
