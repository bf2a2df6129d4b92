/**
 * Route-map files replaced while the gate runs (refused, named, counted; then fixed, applied,
 * receipted), SIGHUP, and report mode — gate-wide and per route, with must_enforce never in it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { adminGet, readReceipts, receiptById, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { assertBlocked, eventually, metricValue } from './authority-kit.js';

let origin: Origin;
let H: number;
before(async () => { origin = await startOrigin(); H = origin.port; });
after(() => origin?.close());

const route = (action: string, p: string, authorize: string, extra: object = {}) =>
  ({ surface: 'app', action, match: { scheme: 'http', host: 'api.it', port: H, method: 'GET', path: p }, authorize, ...extra });

describe('authority: route-map files reloaded while running', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  const file = () => path.join(ws.dir, 'routes', 'routes.yaml');
  const get = (p: string) => viaProxy(ws.listenPort, `http://api.it:${H}${p}`);
  const metrics = async () => (await adminGet(ws.adminPort, '/metrics')).text;
  const policyReceipts = () => readReceipts(ws.receiptsDir).filter((l) => l.payload.kind === 'lifecycle' && l.payload.event === 'policy');

  before(async () => {
    ws = await workspace({ routes: { routes: [route('read', '/a/**', 'none'), route('trial', '/trial/**', 'deny', { mode: 'report' })] } });
    gate = await startGate(ws);
  });
  after(() => gate?.stop());

  it('invalid YAML is refused: logged, counted, named by /readyz (still 200), the last good serves', async () => {
    assert.equal(policyReceipts().length, 1);
    fs.writeFileSync(file(), 'routes:\n  - { surface: app, action: [\n');
    await eventually(async () => metricValue(await metrics(), 'egress_gate_reloads_total', { result: 'refused' }) === 1, 5000, 'refused reload');
    const r = await adminGet(ws.adminPort, '/readyz');
    assert.equal(r.status, 200);
    assert.match(r.json.policy.refused.error, /routes\.yaml:\d+:\d+/);
    assert.match(gate.output(), /reload refused/);
    const p = `/a/${Date.now()}`;
    const ans = await get(p);
    assert.equal(ans.status, 200);
    assert.equal(receiptById(ws.receiptsDir, ans.headers['egress-receipt'])?.payload.policy.version, policyReceipts()[0]!.payload.version);
    assert.equal(policyReceipts().length, 1, 'no policy receipt for a refused version');
  });

  it('fixed: applied with a policy receipt, decisions name the new version, /readyz clears the refusal', async () => {
    fs.writeFileSync(file(), stringify({ routes: [route('read', '/a/**', 'none'), route('write', '/b/**', 'none'), route('trial', '/trial/**', 'deny', { mode: 'report' })] }));
    await eventually(() => policyReceipts().length === 2, 5000, 'policy receipt');
    const v2 = policyReceipts()[1]!.payload;
    assert.notEqual(v2.version, policyReceipts()[0]!.payload.version);
    const ans = await get(`/b/${Date.now()}`);
    assert.equal(ans.status, 200);
    const rec = receiptById(ws.receiptsDir, ans.headers['egress-receipt']);
    assert.deepEqual(rec?.payload.policy, { version: v2.version, digest: v2.digest });
    assert.equal((await adminGet(ws.adminPort, '/readyz')).json.policy.refused, null);
    const m = await metrics();
    assert.equal(metricValue(m, 'egress_gate_reloads_total', { result: 'applied' }), 2);
    assert.equal(metricValue(m, 'egress_gate_policy_info', { version: v2.version }), 1);
  });

  it('SIGHUP reloads a change the watcher cannot see (a symlinked file edited in place elsewhere)', async () => {
    const outside = path.join(ws.dir, 'outside.yaml');
    const doc = (extra: object[]) => stringify({ routes: [route('read', '/a/**', 'none'), route('write', '/b/**', 'none'), route('trial', '/trial/**', 'deny', { mode: 'report' }), ...extra] });
    fs.writeFileSync(outside, doc([]));
    fs.rmSync(file());
    fs.symlinkSync(outside, file());
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(policyReceipts().length, 2, 'same text through the symlink: no new version');
    fs.writeFileSync(outside, doc([route('c', '/c/**', 'none')]));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(policyReceipts().length, 2, 'the watcher did not see the edit');
    assert.equal((await get(`/c/${Date.now()}`)).headers['egress-reason'], 'ROUTE_UNMATCHED');
    gate.proc.kill('SIGHUP');
    await eventually(() => policyReceipts().length === 3, 3000, 'policy receipt after SIGHUP');
    assert.equal((await get(`/c/${Date.now()}`)).status, 200);
  });

  it('per-route report mode in an enforcing gate: shown by /readyz and metrics', async () => {
    const p = `/trial/${Date.now()}`;
    const ans = await get(p);
    assert.equal(ans.status, 200);
    assert.equal(ans.headers['egress-enforced'], 'false');
    assert.equal(ans.headers['egress-decision'], 'DENY');
    assert.equal(ans.headers['egress-reason'], 'ROUTE_DENY');
    assert.equal(receiptById(ws.receiptsDir, ans.headers['egress-receipt'])?.payload.enforced, false);
    assert.equal(origin.byPath(p).length, 1);
    const r = await adminGet(ws.adminPort, '/readyz');
    assert.equal(r.json.mode, 'enforce');
    assert.deepEqual(r.json.report, { gate: false, routes: ['app/trial'] });
    const m = await metrics();
    assert.equal(metricValue(m, 'egress_gate_report_mode', { scope: 'route', action: 'trial' }), 1);
    assert.equal(metricValue(m, 'egress_gate_decisions_total', { decision: 'DENY', reason: 'ROUTE_DENY', enforced: 'false' }), 1);
    assert.match(gate.output(), /route in report mode/);
  });
});

describe('authority: gate-wide report mode', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  const get = (p: string, headers: Record<string, string> = {}) => viaProxy(ws.listenPort, `http://api.it:${H}${p}`, { headers });

  before(async () => {
    ws = await workspace({
      routes: { routes: [route('gated', '/gated/**', 'permit'), route('ok', '/ok/**', 'none'), route('critical', '/critical/**', 'deny', { must_enforce: true })] },
      config: (c) => { c.gate.mode = 'report'; },
    });
    gate = await startGate(ws);
  });
  after(() => gate?.stop());

  it('a would-be DENY is forwarded: enforced false in the receipt, Egress-Enforced false in the response', async () => {
    const p = `/gated/${Date.now()}`;
    const ans = await get(p);
    assert.equal(ans.status, 200, ans.text);
    assert.equal(ans.headers['egress-enforced'], 'false');
    assert.equal(ans.headers['egress-decision'], 'DENY');
    assert.equal(ans.headers['egress-reason'], 'PERMIT_MISSING');
    assert.equal(ans.headers['x-origin'], 'test-origin');
    const rec = receiptById(ws.receiptsDir, ans.headers['egress-receipt']);
    assert.equal(rec?.payload.decision, 'DENY');
    assert.equal(rec?.payload.reason, 'PERMIT_MISSING');
    assert.equal(rec?.payload.enforced, false);
    assert.equal(origin.byPath(p).length, 1);
    // The outcome receipt follows the response's end.
    const outcome = await eventually(() => readReceipts(ws.receiptsDir).find((l) => l.payload.kind === 'outcome' && l.payload.of === rec?.payload.id), 3000, 'outcome receipt');
    assert.equal(outcome.payload.status, 200);
  });

  it('a PERMIT under report mode is recorded not enforced too', async () => {
    const ans = await get(`/ok/${Date.now()}`);
    assert.equal(ans.status, 200);
    assert.equal(ans.headers['egress-enforced'], 'false');
    assert.equal(ans.headers['egress-decision'], 'PERMIT');
    assert.equal(receiptById(ws.receiptsDir, ans.headers['egress-receipt'])?.payload.enforced, false);
  });

  it('must_enforce is never in report mode: blocked, no Egress-Enforced', async () => {
    const p = `/critical/${Date.now()}`;
    const ans = await get(p);
    const id = assertBlocked(assert, ans, 'DENY', 'ROUTE_DENY');
    assert.equal(ans.headers['egress-enforced'], undefined);
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.enforced, true);
    assert.equal(origin.byPath(p).length, 0);
  });

  it('shown at start, in /readyz and in metrics', async () => {
    assert.match(gate.output(), /report mode/);
    const r = await adminGet(ws.adminPort, '/readyz');
    assert.equal(r.status, 200);
    assert.equal(r.json.mode, 'report');
    assert.equal(r.json.report.gate, true);
    const m = (await adminGet(ws.adminPort, '/metrics')).text;
    assert.equal(metricValue(m, 'egress_gate_report_mode', { scope: 'gate' }), 1);
    assert.ok(metricValue(m, 'egress_gate_decisions_total', { decision: 'DENY', reason: 'PERMIT_MISSING', enforced: 'false' }) >= 1);
    assert.ok(metricValue(m, 'egress_gate_decisions_total', { decision: 'DENY', reason: 'ROUTE_DENY', enforced: 'true' }) >= 1);
  });
});
