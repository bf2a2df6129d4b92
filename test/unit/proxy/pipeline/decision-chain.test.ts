/**
 * The one decision chain (proxy/pipeline/decision-chain.ts), stage by stage, with real
 * compiled routes. The exception test kills the mutant "an exception in the decision path
 * becomes a forward": it must end SILENCE INTERNAL_ERROR, never forward.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { route } from '../../policy/route-factory.js';
import { bufferBody } from '../../../../proxy/pipeline/read-body.js';
import { chainWith, head, noBody, policyOf, PROXY } from './pipeline-kit.js';

const open = route({ surface: 'public', action: 'read', authorize: 'none', bindBody: true, match: { host: 'open.test', path: '/open/**' } });
const denied = route({ surface: 'demo', action: 'secrets', authorize: 'deny', match: { host: 'open.test', path: '/secrets/**' } });
const bound = route({ surface: 'notes', action: 'create', authorize: 'permit', bindBody: true, match: { host: 'api.test', methods: ['POST'], path: '/notes' } });
const tunnel = route({ surface: 'db', action: 'connect', authorize: 'none', tunnel: true, match: { host: 'db.test', ports: [5432] } });
const policy = policyOf([open, denied, bound, tunnel]);

describe('DecisionChain', () => {
  it('an exception in any stage is SILENCE INTERNAL_ERROR and never forwards', async () => {
    const chain = chainWith({ policy: () => ({ ...policy, match: () => { throw new Error('boom'); } }) });
    const d = await chain.decideRequest({ head: head('GET', 'http://open.test/open/x'), arrival: PROXY, body: noBody });
    assert.equal(d.verdict.decision.reason, 'INTERNAL_ERROR');
    assert.equal(d.verdict.decision.decision, 'SILENCE');
    assert.equal(d.verdict.forward, false);
    assert.equal(d.verdict.enforced, true);
  });

  it('an exception while resolving a CONNECT destination is INTERNAL_ERROR too', async () => {
    const chain = chainWith({ policy: () => policy, resolve: () => { throw new Error('resolver bug'); } });
    const d = await chain.decideConnect({ authority: 'db.test:5432' });
    assert.equal(d.kind, 'decided');
    if (d.kind === 'decided') assert.equal(d.verdict.decision.reason, 'INTERNAL_ERROR');
  });

  it('no fresh policy is SILENCE POLICY_UNAVAILABLE', async () => {
    const d = await chainWith({ policy: () => undefined }).decideRequest({ head: head('GET', 'http://open.test/open/x'), arrival: PROXY, body: noBody });
    assert.equal(d.verdict.decision.reason, 'POLICY_UNAVAILABLE');
  });

  it('an unparseable request is REQUEST_INVALID and closes the connection', async () => {
    const d = await chainWith({ policy: () => policy }).decideRequest({ head: head('GET', '/origin-form'), arrival: PROXY, body: noBody });
    assert.equal(d.verdict.decision.reason, 'REQUEST_INVALID');
    assert.equal(d.attempt.close, true);
  });

  it('ROUTE_UNMATCHED names the normalized request; a CONNECT no route can match is intercepted so each request inside is told so (SPEC §4)', async () => {
    const chain = chainWith({ policy: () => policy });
    const r = await chain.decideRequest({ head: head('GET', 'http://nowhere.test:8080/a/../b'), arrival: PROXY, body: noBody });
    assert.equal(r.verdict.decision.detail, 'no route matches GET http://nowhere.test:8080/b');
    const c = await chain.decideConnect({ authority: 'nowhere.test:443' });
    assert.equal(c.kind, 'intercept');
  });

  it('a private destination is DENY DESTINATION_PRIVATE before authorization', async () => {
    const chain = chainWith({ policy: () => policy, resolve: () => ({ ok: false, private: true, detail: 'open.test resolves to a private address' }) });
    const d = await chain.decideRequest({ head: head('GET', 'http://open.test/open/x'), arrival: PROXY, body: noBody });
    assert.equal(d.verdict.decision.reason, 'DESTINATION_PRIVATE');
    assert.equal(d.verdict.decision.surface, 'public');
  });

  it('a name that does not resolve is still decided; the address is left for the forwarder to resolve again', async () => {
    const chain = chainWith({ policy: () => policy, resolve: () => ({ ok: false, private: false, detail: 'cannot resolve open.test (ENOTFOUND)' }) });
    const d = await chain.decideRequest({ head: head('GET', 'http://open.test/open/x'), arrival: PROXY, body: noBody });
    assert.equal(d.verdict.decision.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(d.attempt.address, undefined);
  });

  it('reads the body only where a permit binds it: a large body on an authorize: none route is not BODY_TOO_LARGE', async () => {
    const chain = chainWith({ policy: () => policy });
    const big = bufferBody(Buffer.alloc(100));
    const none = await chain.decideRequest({ head: head('POST', 'http://open.test/open/x'), arrival: PROXY, body: big });
    assert.equal(none.verdict.decision.reason, 'NO_PERMIT_REQUIRED');
    const permit = await chain.decideRequest({ head: head('POST', 'http://api.test/notes'), arrival: PROXY, body: big });
    assert.equal(permit.verdict.decision.reason, 'BODY_TOO_LARGE');
    assert.equal(permit.attempt.close, true);
  });

  it('a deny route is ROUTE_DENY with its surface and action', async () => {
    const d = await chainWith({ policy: () => policy }).decideRequest({ head: head('GET', 'http://open.test/secrets/k'), arrival: PROXY, body: noBody });
    assert.deepEqual([d.verdict.decision.reason, d.verdict.decision.surface, d.verdict.decision.action], ['ROUTE_DENY', 'demo', 'secrets']);
  });

  it('CONNECT: a tunnel route is decided, a host some route could match is intercepted, a bad authority is REQUEST_INVALID', async () => {
    const chain = chainWith({ policy: () => policy });
    const t = await chain.decideConnect({ authority: 'db.test:5432' });
    assert.equal(t.kind === 'decided' && t.verdict.decision.reason, 'NO_PERMIT_REQUIRED');
    const i = await chain.decideConnect({ authority: 'api.test:443' });
    assert.equal(i.kind, 'intercept');
    const bad = await chain.decideConnect({ authority: 'no-port' });
    assert.equal(bad.kind === 'decided' && bad.verdict.decision.reason, 'REQUEST_INVALID');
  });

  it('trace reports each stage in order (what explain prints)', async () => {
    const seen: string[] = [];
    const chain = chainWith({ policy: () => policy, extra: { trace: (c) => seen.push(c) } });
    await chain.decideRequest({ head: head('POST', 'http://api.test/notes'), arrival: PROXY, body: bufferBody(Buffer.from('{}')) });
    assert.deepEqual(seen, ['normalize', 'match', 'destination', 'body', 'authorize']);
  });
});
