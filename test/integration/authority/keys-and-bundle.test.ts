/**
 * Authority that lives elsewhere, served over https with a test CA in tls.upstream_ca:
 * issuer JWKS down at start (KEYS_UNAVAILABLE, /readyz 503) and down mid-run with cached keys
 * (still verifies); the remote route-map bundle unreachable at start, with a bad signature,
 * and down past max_stale (POLICY_UNAVAILABLE, /readyz 503).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  adminGet, genKey, permitClaims, readReceipts, receiptById, signPermit, startGate, startOrigin, tmpDir, viaProxy, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from '../harness.js';
import { assertBlocked, bundleHandler, eventually, makeTlsFixture, metricValue, signBundle, switchable, type Switchable, type TlsFixture } from './authority-kit.js';

let tls: TlsFixture;
let origin: Origin;
let H: number;
before(async () => {
  tls = makeTlsFixture(path.join(tmpDir('eg-auth-tls-'), 'tls'));
  origin = await startOrigin();
  H = origin.port;
});
after(() => origin?.close());

const chargeRoute = () => ({ surface: 'payments', action: 'charge.create', match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: '/v1/charges/{id}' }, authorize: 'permit' });

async function postWithPermit(ws: GateWorkspace, p: string) {
  const u = `http://api.it:${H}${p}`;
  const token = signPermit(ws.issuer, permitClaims({ surface: 'payments', action: 'charge.create', htm: 'POST', htu: u }));
  return viaProxy(ws.listenPort, u, { method: 'POST', body: '{}', headers: { 'egress-permit': token } });
}

describe('authority: issuer JWKS over https', () => {
  let jwks: Switchable;
  const gates: GateProcess[] = [];
  after(async () => { for (const g of gates) await g.stop(); await jwks?.close(); });

  async function gateWithJwks(): Promise<GateWorkspace> {
    return workspace({
      routes: { routes: [chargeRoute()] },
      config: (c) => {
        c.permits.issuers[0].jwks = jwks.url('/jwks.json');
        c.tls.upstream_ca = [tls.caPath];
      },
    });
  }

  it('JWKS down at start: the gate runs, /readyz 503 names keys, permits are SILENCE KEYS_UNAVAILABLE', async () => {
    jwks = await switchable((_req, _b, res) => { res.end('{"keys":[]}'); }, tls);
    await jwks.down();
    const ws = await gateWithJwks();
    const g = await startGate(ws, { waitReady: false });
    gates.push(g);
    const ready = await adminGet(ws.adminPort, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.ready, false);
    assert.equal(ready.json.keys.ready, false);
    assert.equal(ready.json.policy.ready, true);
    const p = `/v1/charges/k-${Date.now()}`;
    const ans = await postWithPermit(ws, p);
    const id = assertBlocked(assert, ans, 'SILENCE', 'KEYS_UNAVAILABLE');
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'KEYS_UNAVAILABLE');
    assert.equal(origin.byPath(p).length, 0);
    await g.stop();
  });

  it('JWKS down mid-run: cached keys still verify', async () => {
    const ws = await gateWithJwks();
    jwks.handler = (_req, _b, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ keys: [ws.issuer.publicJwk] })); };
    await jwks.up();
    const g = await startGate(ws);
    gates.push(g);
    assert.ok(jwks.hits.length >= 1, 'keys fetched at start over https with the test CA');
    await jwks.down();
    const p = `/v1/charges/m-${Date.now()}`;
    const ans = await postWithPermit(ws, p);
    assert.equal(ans.status, 200, ans.text);
    assert.equal(receiptById(ws.receiptsDir, ans.headers['egress-receipt'])?.payload.reason, 'PERMIT_VALID');
    assert.equal(origin.byPath(p).length, 1);
    assert.equal((await adminGet(ws.adminPort, '/readyz')).status, 200);
  });
});

describe('authority: the remote route-map bundle', () => {
  const key = genKey('EdDSA', 'bundle-key');
  const intruder = genKey('EdDSA', 'bundle-key');
  let server: Switchable;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let token = '';
  const v1 = () => `routes:\n  - { surface: public, action: read, match: { scheme: http, host: open.it, port: ${H}, method: GET, path: /open/** }, authorize: none }\n`;
  const v2 = () => `${v1()}  - { surface: public, action: write, match: { scheme: http, host: open.it, port: ${H}, method: POST, path: /open/** }, authorize: none }\n`;
  const get = (p: string) => viaProxy(ws.listenPort, `http://open.it:${H}${p}`);
  const ready = () => adminGet(ws.adminPort, '/readyz');
  const metrics = async () => (await adminGet(ws.adminPort, '/metrics')).text;

  before(async () => {
    server = await switchable(bundleHandler(() => token), tls);
    await server.down();
    ws = await workspace({
      routes: { routes: [] },
      config: (c) => {
        c.policy = { routes: [server.url('/bundle.jwt')], bundle_keys: './keys/bundle.jwks.json', max_stale: '3s' };
        c.tls.upstream_ca = [tls.caPath];
      },
    });
    fs.writeFileSync(path.join(ws.dir, 'keys', 'bundle.jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
    gate = await startGate(ws, { waitReady: false });
  });
  after(async () => { await gate?.stop(); await server?.close(); });

  it('unreachable at start: running, not ready, every request SILENCE POLICY_UNAVAILABLE', async () => {
    const r = await ready();
    assert.equal(r.status, 503);
    assert.equal(r.json.policy.loaded, false);
    assert.equal(r.json.policy.source, 'bundle');
    assert.match(r.json.policy.unreachable.error, /could not be fetched/);
    const p = `/open/${Date.now()}`;
    const id = assertBlocked(assert, await get(p), 'SILENCE', 'POLICY_UNAVAILABLE');
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'POLICY_UNAVAILABLE');
    assert.equal(origin.byPath(p).length, 0);
  });

  it('reachable: applied (policy receipt), polled with If-None-Match, decisions name the version', async () => {
    token = signBundle(key, v1());
    await server.up();
    const r = await eventually(async () => { const x = await ready(); return x.status === 200 ? x : undefined; }, 5000, 'ready');
    assert.equal(r.json.policy.fresh, true);
    const p = `/open/${Date.now()}`;
    const ans = await get(p);
    assert.equal(ans.status, 200, ans.text);
    const rec = receiptById(ws.receiptsDir, ans.headers['egress-receipt']);
    const policyReceipts = readReceipts(ws.receiptsDir).filter((l) => l.payload.kind === 'lifecycle' && l.payload.event === 'policy');
    assert.equal(policyReceipts.length, 1);
    assert.equal(rec?.payload.policy.version, policyReceipts[0]!.payload.version);
    assert.equal(rec?.payload.policy.digest, policyReceipts[0]!.payload.digest);
    await eventually(() => server.hits.some((h) => h.headers['if-none-match']), 3000, 'a conditional GET');
    assert.equal(metricValue(await metrics(), 'egress_gate_reloads_total', { result: 'applied' }), 1, '304s apply nothing');
  });

  it('a bad signature is refused: counted, named in /readyz, the last good serves', async () => {
    token = signBundle(intruder, v2());
    await eventually(async () => metricValue(await metrics(), 'egress_gate_reloads_total', { result: 'refused' }) === 1, 3000, 'refused reload');
    const r = await ready();
    assert.equal(r.status, 200, 'the last good version is fresh enough');
    assert.match(r.json.policy.refused.error, /does not verify/);
    assert.equal((await get(`/open/${Date.now()}`)).status, 200);
    const post = `/open/w-${Date.now()}`;
    assertBlocked(assert, await viaProxy(ws.listenPort, `http://open.it:${H}${post}`, { method: 'POST', body: 'x' }), 'DENY', 'ROUTE_UNMATCHED');
    token = signBundle(key, v2());
    await eventually(async () => (await viaProxy(ws.listenPort, `http://open.it:${H}${post}`, { method: 'POST', body: 'x' })).status === 200, 3000, 'v2 applied');
    assert.equal((await ready()).json.policy.refused, null);
    assert.equal(readReceipts(ws.receiptsDir).filter((l) => l.payload.event === 'policy').length, 2);
  });

  it('down past max_stale: SILENCE POLICY_UNAVAILABLE, /readyz 503, stale seconds shown', async () => {
    await server.down();
    const p = `/open/${Date.now()}`;
    assert.equal((await get(p)).status, 200, 'within max_stale the last good serves');
    const r = await eventually(async () => { const x = await ready(); return x.status === 503 ? x : undefined; }, 6000, 'not ready');
    assert.equal(r.json.policy.fresh, false);
    assert.equal(r.json.policy.loaded, true);
    const q = `/open/s-${Date.now()}`;
    assertBlocked(assert, await get(q), 'SILENCE', 'POLICY_UNAVAILABLE');
    assert.equal(origin.byPath(q).length, 0);
    assert.ok(metricValue(await metrics(), 'egress_gate_policy_stale_seconds') > 3);
    await server.up();
    await eventually(async () => (await ready()).status === 200, 3000, 'fresh again');
    assert.equal((await get(`/open/b-${Date.now()}`)).status, 200);
  });
});
