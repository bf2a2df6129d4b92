/**
 * The arbiter's route maps from a signed bundle (SPEC §12 policy.routes, §3, §5), served over
 * https on loopback by a test CA: no bundle yet — running, not ready, no permit
 * (503 POLICY_UNAVAILABLE); a good bundle — permits matched against its routes; a wrongly
 * signed or unsigned bundle — refused, the last good one serving; a good new version applies;
 * past max_stale — not ready, no permit, not even for an approval, until the bundle is back;
 * a route that changed while a request waited — its approval signs nothing, across a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { GATE_ID, genKey, readReceipts, SUBJECT, tmpDir, workspace } from '../harness.js';
import { bundleHandler, eventually, makeTlsFixture, metricValue, signBundle, switchable, type Switchable, type TlsFixture } from '../authority/authority-kit.js';
import { api, arbiterWorkspace, startArbiterProcess, type ArbiterProcess, type ArbiterWorkspace } from './arbiter-harness.js';

const route = (action: string, p: string, surface = 'notes') =>
  `  - { surface: ${surface}, action: ${action}, match: { scheme: http, host: api.it, port: 8080, method: POST, path: ${p} }, authorize: permit }\n`;
// A brokered credential, as a gate's route map has one: the arbiter checks the reference, never reads it.
const brokered = '  - { surface: notes, action: create, match: { scheme: http, host: api.it, port: 8080, method: POST, path: /notes }, authorize: permit, credentials: { header: Authorization, value: "Bearer ${secret:notes-api}" } }\n';
const V1 = `routes:\n${brokered}${route('restart', '/restart', 'ops')}`;
const V2 = `${V1}${route('publish', '/publish')}`;
// V2 with ops/restart now denied by its route.
const V3 = V2.replace(`${route('restart', '/restart', 'ops')}`, route('restart', '/restart', 'ops').replace('authorize: permit', 'authorize: deny'));
const ask = (p: string) => ({ gate: GATE_ID, request: { method: 'POST', url: `http://api.it:8080/${p}` } });
const claimsOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1] as string, 'base64url').toString());

describe('arbiter: route maps from a signed bundle', () => {
  const key = genKey('EdDSA', 'bundle-key');
  const intruder = genKey('EdDSA', 'bundle-key');
  let tls: TlsFixture;
  let server: Switchable;
  let token = '';
  // "Down" cuts each connection without an answer, on a port kept bound: a port released and
  // bound again could be taken meanwhile by another test's server.
  let down = true;
  let aws: ArbiterWorkspace;
  let arbiter: ArbiterProcess;
  const post = (p: string) => api(aws, aws.tokens.agent, 'POST', '/v1/permits', ask(p));
  const ready = () => api(aws, undefined, 'GET', '/readyz');
  const metric = async (labels: Record<string, string>) => metricValue((await api(aws, undefined, 'GET', '/metrics')).json, 'egress_arbiter_reloads_total', labels);
  const issued = () => readReceipts(aws.receiptsDir).map((r) => r.payload).filter((e) => e.kind === 'issuance' && e.decision === 'PERMIT');

  before(async () => {
    tls = makeTlsFixture(path.join(tmpDir('eg-arb-bundle-'), 'tls'));
    const serve = bundleHandler(() => token);
    server = await switchable((req, body, res) => { if (down) res.socket?.destroy(); else serve(req, body, res); }, tls);
    const gws = await workspace({ routes: { routes: [] } });
    aws = await arbiterWorkspace({
      dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'),
      config: (c) => {
        c.policy = { routes: [server.url('/routes.jwt')], bundle_keys: './keys/bundle.jwks.json', max_stale: '3s' };
        c.grants = [
          { subject: SUBJECT, surface: 'notes', action: 'create', gates: [GATE_ID], approve: 'auto' },
          { subject: SUBJECT, surface: 'notes', action: 'publish', gates: [GATE_ID], approve: 'auto' },
          { subject: SUBJECT, surface: 'ops', action: 'restart', gates: [GATE_ID], approve: 'human' },
        ];
      },
    });
    fs.writeFileSync(path.join(aws.dir, 'keys', 'bundle.jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
    // The arbiter trusts Node's store; the test CA joins it the standard way.
    arbiter = await startArbiterProcess(aws, { NODE_EXTRA_CA_CERTS: tls.caPath });
  });
  after(async () => { await arbiter?.stop(); await server?.close(); });

  it('no bundle yet: running, not ready, and no permit — 503 POLICY_UNAVAILABLE, logged', async () => {
    const r = await ready();
    assert.equal(r.status, 503);
    assert.equal(r.json.ready, false);
    assert.equal(r.json.policy.source, 'bundle');
    assert.equal(r.json.policy.loaded, false);
    assert.match(r.json.policy.unreachable.error, /could not be fetched/);
    const a = await post('notes');
    assert.equal(a.status, 503, JSON.stringify(a.json));
    assert.equal(a.json.reason, 'POLICY_UNAVAILABLE');
    assert.equal(a.json.decision, 'SILENCE');
    assert.match(a.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal(a.json.permit, undefined);
    await eventually(() => readReceipts(aws.receiptsDir).some((e) => e.payload.kind === 'issuance' && e.payload.reason === 'POLICY_UNAVAILABLE'), 3000, 'the refusal logged');
    assert.equal(issued().length, 0);
  });

  it('the bundle arrives: ready, and a permit for a request matched against its routes (one with brokered credentials)', async () => {
    token = signBundle(key, V1);
    down = false;
    const r = await eventually(async () => { const x = await ready(); return x.status === 200 ? x : undefined; }, 5000, 'ready');
    assert.equal(r.json.policy.fresh, true);
    const a = await post('notes');
    assert.equal(a.status, 201, JSON.stringify(a.json));
    const c = claimsOf(a.json.permit);
    assert.deepEqual([c.surface, c.action, c.aud, c.sub], ['notes', 'create', GATE_ID, SUBJECT]);
    assert.equal(issued().at(-1)?.permit.jti, c.jti, 'the issuance entry is durable before the answer');
    const policyEntries = readReceipts(aws.receiptsDir).filter((e) => e.payload.kind === 'lifecycle' && e.payload.event === 'policy');
    assert.equal(policyEntries.length, 1);
    assert.equal(policyEntries[0]?.payload.version, r.json.policy.version);
    assert.equal((await post('publish')).json.reason, 'ROUTE_UNMATCHED', 'v1 has no publish route');
  });

  it('a wrongly signed bundle is refused: counted, named in /readyz, the last good one serves', async () => {
    token = signBundle(intruder, V2);
    await eventually(async () => (await metric({ result: 'refused' })) === 1, 5000, 'a refused reload');
    const r = await ready();
    assert.equal(r.status, 200, 'the last good version is fresh');
    assert.match(r.json.policy.refused.error, /does not verify/);
    assert.equal((await post('notes')).status, 201);
    assert.equal((await post('publish')).json.reason, 'ROUTE_UNMATCHED', 'the refused version is not in effect');
  });

  it('an unsigned bundle (the YAML itself) is refused too', async () => {
    token = V2;
    await eventually(async () => (await metric({ result: 'refused' })) === 2, 5000, 'a second refused reload');
    assert.match((await ready()).json.policy.refused.error, /does not verify/);
    assert.equal((await post('publish')).json.reason, 'ROUTE_UNMATCHED');
  });

  it('a good new version applies (SIGHUP asks at once), and permits follow it', async () => {
    token = signBundle(key, V2);
    arbiter.proc.kill('SIGHUP');
    await eventually(async () => (await metric({ result: 'applied' })) === 2, 5000, 'the new version applied');
    const r = await ready();
    assert.equal(r.json.policy.refused, null);
    const a = await post('publish');
    assert.equal(a.status, 201, JSON.stringify(a.json));
    assert.equal(claimsOf(a.json.permit).action, 'publish');
  });

  it('past max_stale: not ready, no permit, and an approval issues nothing until the bundle is back, across a restart', async () => {
    const held = await post('restart');
    assert.equal(held.status, 202, JSON.stringify(held.json));
    down = true;
    const r = await eventually(async () => { const x = await ready(); return x.status === 503 ? x : undefined; }, 8000, 'stale');
    assert.equal(r.json.policy.fresh, false);
    assert.equal(r.json.policy.loaded, true);
    assert.ok(r.json.policy.stale_seconds >= 3, String(r.json.policy.stale_seconds));
    const before = issued().length;
    const a = await post('notes');
    assert.equal(a.status, 503);
    assert.equal(a.json.reason, 'POLICY_UNAVAILABLE');
    assert.equal(a.json.permit, undefined);

    const vote = await api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${held.json.request_id}`, { approve: true });
    assert.equal(vote.status, 200, JSON.stringify(vote.json));
    const poll = await api(aws, aws.tokens.agent, 'GET', `/v1/permit-requests/${held.json.request_id}`);
    assert.equal(poll.status, 503, JSON.stringify(poll.json));
    assert.equal(poll.json.reason, 'POLICY_UNAVAILABLE');
    assert.equal(poll.json.permit, undefined);
    assert.equal(issued().length, before, 'nothing issued while stale');

    // A restart now: the approval is in the log, its permit is not; it stays approved.
    await arbiter.stop();
    arbiter = await startArbiterProcess(aws, { NODE_EXTRA_CA_CERTS: tls.caPath });
    down = false;
    await eventually(async () => (await ready()).status === 200, 5000, 'fresh again');
    const got = await api(aws, aws.tokens.agent, 'GET', `/v1/permit-requests/${held.json.request_id}`);
    assert.equal(got.status, 200, JSON.stringify(got.json));
    assert.deepEqual(claimsOf(got.json.permit).apr, ['alice']);
    assert.equal(issued().length, before + 1);
  });

  it('a request whose route changed while it waited: the approval signs nothing, DENY with the new reason, logged, kept across a restart', async () => {
    const held = await post('restart');
    assert.equal(held.status, 202, JSON.stringify(held.json));
    const was = (await ready()).json.policy.version;
    token = signBundle(key, V3);
    arbiter.proc.kill('SIGHUP');
    await eventually(async () => (await ready()).json.policy.version !== was, 5000, 'V3 applied');
    assert.equal((await post('restart')).json.reason, 'ROUTE_DENY', 'a new request is refused by V3');
    const before = issued().length;

    const vote = await api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${held.json.request_id}`, { approve: true });
    assert.equal(vote.status, 200, JSON.stringify(vote.json));
    assert.equal(vote.json.state, 'denied');
    const poll = await api(aws, aws.tokens.agent, 'GET', `/v1/permit-requests/${held.json.request_id}`);
    assert.equal(poll.status, 403, JSON.stringify(poll.json));
    assert.equal(poll.json.reason, 'ROUTE_DENY');
    assert.match(poll.json.detail, /no longer matches what was approved/);
    assert.equal(poll.json.permit, undefined);
    assert.equal(issued().length, before, 'nothing issued for it');
    const end = readReceipts(aws.receiptsDir).map((r) => r.payload).filter((e) => e.kind === 'issuance' && e.event === 'resolved' && e.request_id === held.json.request_id);
    assert.deepEqual(end.map((e) => [e.decision, e.reason]), [['DENY', 'ROUTE_DENY']]);

    await arbiter.stop();
    arbiter = await startArbiterProcess(aws, { NODE_EXTRA_CA_CERTS: tls.caPath });
    const again = await api(aws, aws.tokens.agent, 'GET', `/v1/permit-requests/${held.json.request_id}`);
    assert.equal(again.json.reason, 'ROUTE_DENY', JSON.stringify(again.json));
    assert.equal((await api(aws, aws.tokens.bob, 'POST', `/v1/approvals/${held.json.request_id}`, { approve: true })).json.reason, 'ALREADY_DECIDED');
  });
});
