/**
 * The console's routes view (proxy/observe/console/routes-view.ts) and its access rule's Host
 * check (console-access.ts): routes by surface with their effective mode, exceptions marked
 * expired or not, never a credential's value; only loopback names pass the Host check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from '../../../../../policy/compile-policy.js';
import type { PolicyStatus } from '../../../../../runtime/policy-source.js';
import { loopbackHostHeader } from '../../../../../proxy/observe/console/console-access.js';
import { routesView } from '../../../../../proxy/observe/console/routes-view.js';
import { exception, route } from '../../../policy/route-factory.js';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const status: PolicyStatus = { source: 'files', loaded: true, fresh: true, version: 'v1', digest: 'd1', stale_seconds: 0, refused: { at: 'then', error: 'r.yaml:3:4: bad' }, unreachable: null };

describe('routesView', () => {
  it('groups routes by surface with the effective mode; marks expired exceptions; never a credential value', () => {
    const policy = compilePolicy({
      routes: [
        route({ surface: 'pay', action: 'charge', mode: 'report', match: { host: 'api.test', path: '/charges' } }),
        route({ surface: 'pay', action: 'refund', mode: 'report', mustEnforce: true, match: { host: 'api.test', path: '/refunds' } }),
        route({ surface: 'docs', action: 'read', authorize: 'none', credentials: { header: 'x-api-key', value: 'CREDENTIAL-VALUE', secret: 'docs-key' }, match: { host: 'docs.test' } }),
      ],
      exceptions: [exception({ id: 'OLD', surface: 'pay', action: 'charge', expires: NOW - 1 }), exception({ id: 'NEW', surface: 'pay', action: 'refund', expires: NOW + 1000 })],
      sources: [],
    }, { nowMs: NOW });
    const v = routesView(policy, status, 'enforce', NOW) as any;
    assert.deepEqual(v.surfaces.map((s: any) => [s.surface, s.routes.map((r: any) => [r.action, r.mode, r.report, r.must_enforce])]), [
      ['pay', [['charge', 'report', true, false], ['refund', 'enforce', false, true]]],
      ['docs', [['read', 'enforce', false, false]]],
    ]);
    assert.deepEqual(v.surfaces[1].routes[0].credential, { header: 'x-api-key', secret: 'docs-key' });
    assert.deepEqual(v.exceptions.map((e: any) => [e.id, e.expired, e.approved_by]), [['OLD', true, ['alice@sec', 'bob@risk']], ['NEW', false, ['alice@sec', 'bob@risk']]]);
    assert.equal(v.policy.refused.error, 'r.yaml:3:4: bad');
    assert.ok(!JSON.stringify(v).includes('CREDENTIAL-VALUE'), 'a brokered credential value is never in the view');
    assert.deepEqual(routesView(undefined, { ...status, loaded: false }, 'report', NOW), { gate_mode: 'report', policy: { ...status, loaded: false }, surfaces: [], exceptions: [] });
  });
});

describe('loopbackHostHeader', () => {
  for (const [host, ok] of [
    ['127.0.0.1:3129', true], ['127.0.0.1', true], ['127.8.9.10:1', true], ['localhost:3129', true], ['LOCALHOST', true], ['[::1]:3129', true],
    ['rebind.example:3129', false], ['127.0.0.1.evil.example', false], ['192.0.2.2:3129', false], ['[::2]:3129', false], ['', false], [undefined, false], ['localhost.evil', false],
  ] as [string | undefined, boolean][]) {
    it(`${JSON.stringify(host)} → ${ok}`, () => assert.equal(loopbackHostHeader(host), ok));
  }
});
