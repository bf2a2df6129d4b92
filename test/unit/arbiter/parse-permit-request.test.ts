/**
 * rematchPermitRequest: an approved request matched again at signing against the route maps
 * then in effect (SPEC §12). The same request under the same maps matches; changed maps
 * give the refusal a new POST would get.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePermitRequest, rematchPermitRequest } from '../../../arbiter/parse-permit-request.js';
import { compilePolicy } from '../../../policy/compile-policy.js';
import type { Route } from '../../../policy/types.js';
import { route } from '../policy/route-factory.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const compile = (routes: Route[]) => compilePolicy({ routes, exceptions: [], sources: [] }, { nowMs: NOW });
const DIGEST = 'x'.repeat(43);
const mcp = (action: string, tool: string, extra: Partial<Route> = {}) =>
  route({ surface: 'github', action, match: { host: 'mcp.test', path: '/mcp', methods: ['POST'], jsonrpc: { method: 'tools/call', tool } }, ...extra });
const notes = (extra: Partial<Route> = {}) => route({ surface: 'notes', action: 'publish', match: { host: 'api.test', path: '/publish', methods: ['POST'] }, ...extra });

/** The request as it was held: parsed and matched under `routes`. */
function held(routes: Route[], request: Record<string, unknown>) {
  const p = parsePermitRequest({ gate: 'g1', request }, compile(routes));
  assert.ok(p.ok, JSON.stringify(!p.ok && p.answer.body));
  return { gate: p.ask.gate, request: p.ask.request, surface: p.ask.surface, action: p.ask.action };
}
const reasonOf = (p: ReturnType<typeof rematchPermitRequest>) => (p.ok ? `${p.ask.surface}/${p.ask.action}` : p.answer.body.reason);

describe('rematchPermitRequest', () => {
  const call = { method: 'POST', url: 'http://mcp.test/mcp', body_sha256: DIGEST, jsonrpc: { method: 'tools/call', tool: 'create_issue' } };

  it('keeps the JSON-RPC call it was matched by, and matches again under the same maps', () => {
    const routes = [mcp('issues.create', 'create_issue'), mcp('repo.delete', 'delete_repo')];
    const r = held(routes, call);
    assert.deepEqual(r.request.jsonrpc, { method: 'tools/call', tool: 'create_issue' });
    assert.equal(reasonOf(rematchPermitRequest(r, compile(routes))), 'github/issues.create');
  });

  it('a tool route that now denies, or is gone, refuses', () => {
    const r = held([mcp('issues.create', 'create_issue')], call);
    assert.equal(reasonOf(rematchPermitRequest(r, compile([mcp('issues.create', 'create_issue', { authorize: 'deny' })]))), 'ROUTE_DENY');
    assert.equal(reasonOf(rematchPermitRequest(r, compile([mcp('repo.delete', 'delete_repo')]))), 'ROUTE_UNMATCHED');
  });

  it('the request now matching another action refuses (it was approved as publish)', () => {
    const r = held([notes()], { method: 'POST', url: 'http://api.test/publish' });
    const p = rematchPermitRequest(r, compile([notes({ action: 'broadcast' })]));
    assert.equal(reasonOf(p), 'REQUEST_INVALID');
    assert.match(String(!p.ok && p.answer.body.detail), /matches notes\/broadcast, not the surface\/action named/);
  });

  it('a route that now binds the body refuses a request held without a body digest', () => {
    const r = held([notes()], { method: 'POST', url: 'http://api.test/publish' });
    assert.equal(reasonOf(rematchPermitRequest(r, compile([notes({ bindBody: true })]))), 'REQUEST_INVALID');
    const withDigest = held([notes()], { method: 'POST', url: 'http://api.test/publish', body_sha256: DIGEST });
    assert.equal(reasonOf(rematchPermitRequest(withDigest, compile([notes({ bindBody: true })]))), 'notes/publish');
  });

  it('no fresh route maps is POLICY_UNAVAILABLE (the caller tries again later)', () => {
    const r = held([notes()], { method: 'POST', url: 'http://api.test/publish' });
    assert.equal(reasonOf(rematchPermitRequest(r, undefined)), 'POLICY_UNAVAILABLE');
  });
});
