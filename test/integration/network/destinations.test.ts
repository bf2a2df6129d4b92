/**
 * block_private through the real gate process (SPEC §3, §4): every IP-literal spelling of a
 * private address, names resolving to one (system DNS and network.hosts), allow_cidrs, and
 * the gate's own admin and proxy ports — refused even with block_private off. Each refusal is
 * checked by status, reason, receipt and that no origin saw anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeHost } from '../../../policy/normalize-request.js';
import { adminGet, receiptById, startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { absoluteGet, countingOrigin, rawRequest, type CountingOrigin } from './raw-http.js';

/** Each spelling with the private address it means. All of them must be refused. */
const SPELLINGS = [
  '127.0.0.1', '2130706433', '0x7f.1', '0x7f000001', '0177.0.0.1', '0177.1', '127.1', '127.0.0.1.', '0x7F.0.0.01',
  '[::ffff:127.0.0.1]', '[::ffff:7f00:1]', '[::FFFF:7F00:1]', '[0:0:0:0:0:ffff:7f00:1]', '[::1]', '[0:0:0:0:0:0:0:1]', '[::127.0.0.1]',
  '[64:ff9b::7f00:1]', '[2002:7f00:1::1]', '[2001:0:4136:e378:8000:63bf:80ff:fffe]',
  '169.254.169.254', '2852039166', '[::ffff:a9fe:a9fe]', '10.0.0.1', '012.0.0.1', '172.16.5.4', '192.168.0.1', '100.64.0.1',
  '0.0.0.0', '0', '[::]', '224.0.0.1', '[ff02::1]', '[fe80::1]', '[fd00::1]', '[fc00::5]', '255.255.255.255',
];

describe('network: private destinations with block_private on', () => {
  let origin: CountingOrigin;
  let allowed: CountingOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let P: number;

  before(async () => {
    origin = await countingOrigin('127.0.0.1');
    P = origin.port;
    allowed = await countingOrigin('127.0.0.2');
    const hosts = [...new Set(SPELLINGS.map((s) => normalizeHost(s.replace(/\.$/, '')).host))];
    const route = (host: string, i: number) => ({ surface: 'lit', action: `a${i}`, match: { host, port: '*', method: '*', path: '/**' }, authorize: 'none' });
    ws = await workspace({
      routes: { routes: [...hosts.map(route), ...['localhost', 'hosted.it', 'allowed.it'].map((h, i) => route(h, 100 + i))] },
      config: (c) => { c.network = { block_private: true, allow_cidrs: ['127.0.0.2/32'], hosts: { 'hosted.it': '127.0.0.1', 'allowed.it': '127.0.0.2' } }; },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); await allowed?.close(); });

  for (const spelling of SPELLINGS) {
    it(`refuses http://${spelling}:port/ with DESTINATION_PRIVATE and a receipt`, async () => {
      const a = await rawRequest(ws.listenPort, absoluteGet(`${spelling}:${P}`));
      assert.equal(a.status, 403, a.raw);
      assert.equal(a.headers['egress-reason'], 'DESTINATION_PRIVATE', a.raw);
      assert.equal(a.json?.reason, 'DESTINATION_PRIVATE');
      const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
      assert.equal(rec?.payload.reason, 'DESTINATION_PRIVATE');
      assert.equal(rec?.payload.decision, 'DENY');
      assert.deepEqual(origin.hits, []);
    });
  }

  it('refuses a name the system resolver answers with loopback (localhost)', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`localhost:${P}`));
    assert.equal(a.headers['egress-reason'], 'DESTINATION_PRIVATE', a.raw);
    assert.match(a.json?.detail ?? '', /localhost resolves to a private address/);
  });

  it('refuses a network.hosts override that points at a private address', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`hosted.it:${P}`));
    assert.equal(a.headers['egress-reason'], 'DESTINATION_PRIVATE', a.raw);
  });

  it('forwards to an allow_cidrs exception, connecting to exactly that address', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`allowed.it:${allowed.port}`, '/ok'));
    assert.equal(a.status, 200, a.raw);
    assert.equal(a.headers['egress-decision'], 'PERMIT');
    assert.equal(a.body, 'origin 127.0.0.2');
    assert.deepEqual(allowed.hits, ['GET /ok']);
  });

  it('no origin saw any refused request, and the gate is healthy', async () => {
    assert.deepEqual(origin.hits, []);
    assert.equal((await adminGet(ws.adminPort, '/healthz')).status, 200);
  });
});

describe("network: the gate's own ports are never reachable through the proxy (block_private off)", () => {
  let origin: CountingOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;

  before(async () => {
    origin = await countingOrigin('127.0.0.1');
    const any = (host: string, action: string) => ({ surface: 'own', action, match: { host, port: '*', method: '*', path: '/**' }, authorize: 'none' });
    ws = await workspace({
      routes: { routes: [any('127.0.0.1', 'v4'), any('::ffff:7f00:1', 'mapped'), any('0.0.0.0', 'any'), any('localhost', 'name'), any('::1', 'v6')] },
      config: (c) => { c.network = { block_private: false, hosts: {} }; },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('the same route forwards to an ordinary loopback origin (block_private is really off)', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`127.0.0.1:${origin.port}`, '/ctl'));
    assert.equal(a.status, 200, a.raw);
    assert.deepEqual(origin.hits, ['GET /ctl']);
  });

  for (const host of ['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]', '0.0.0.0', 'localhost']) {
    for (const which of ['admin', 'proxy'] as const) {
      it(`refuses ${which} port via ${host} with DESTINATION_PRIVATE and never answers from it`, async () => {
        const port = which === 'admin' ? ws.adminPort : ws.listenPort;
        const path = which === 'admin' ? '/metrics' : '/loop';
        const a = await rawRequest(ws.listenPort, absoluteGet(`${host}:${port}`, path));
        assert.equal(a.status, 403, a.raw);
        assert.equal(a.headers['egress-reason'], 'DESTINATION_PRIVATE');
        assert.match(a.json?.detail ?? '', /the gate's own listener/);
        assert.doesNotMatch(a.raw, /egress_gate_|# HELP/);
        assert.equal(receiptById(ws.receiptsDir, a.headers['egress-receipt'])?.payload.reason, 'DESTINATION_PRIVATE');
      });
    }
  }

  it('an unrouted request to the admin port is ROUTE_UNMATCHED', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`admin.unrouted:${ws.adminPort}`, '/metrics'));
    assert.equal(a.headers['egress-reason'], 'ROUTE_UNMATCHED', a.raw);
    assert.doesNotMatch(a.raw, /egress_gate_/);
  });

  it('every one of those refusals was decided (and counted) by the gate', async () => {
    const m = await adminGet(ws.adminPort, '/metrics');
    const counts = [...m.text.matchAll(/^egress_gate_decisions_total\{[^}]*reason="DESTINATION_PRIVATE"[^}]*\} (\d+)$/gm)].map((x) => Number(x[1]));
    assert.equal(counts.reduce((a, b) => a + b, 0), 10);
  });
});
