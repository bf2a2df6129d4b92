/**
 * Fault injection against a real decider HTTP server with the gate as a process (SPEC §6):
 * every failure ends SILENCE with its exact reason, Retry-After, one receipt, and nothing at
 * the origin; fail-fast after 5 failures, recovery after the second; on_silence: pause.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readReceipts, receiptById, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { assertBlocked, decisionsFor, sleep, switchable, type Switchable } from './authority-kit.js';

type Mode = 'ok' | 'deny' | '500' | 'garbage' | 'empty' | 'yes' | 'sleep' | 'reset';

describe('authority: the online decider, fault by fault', () => {
  let origin: Origin;
  let decider: Switchable;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let mode: Mode = 'ok';
  let H: number;
  let n = 0;
  const url = (p: string) => `http://api.it:${H}${p}`;
  const post = (p: string) => viaProxy(ws.listenPort, url(p), { method: 'POST', body: '{"x":1}', headers: { 'content-type': 'application/json' } });

  before(async () => {
    origin = await startOrigin();
    H = origin.port;
    decider = await switchable((req, _body, res) => {
      switch (mode) {
        case 'ok': res.end('{"result":{"decision":"PERMIT","reason":"fine"}}'); return;
        case 'deny': res.end('{"result":{"decision":"DENY","reason":"over budget"}}'); return;
        case '500': res.writeHead(500); res.end('{"result":true}'); return;
        case 'garbage': res.end('<<garbage>>'); return;
        case 'empty': res.end('{}'); return;
        case 'yes': res.end('{"result":"yes"}'); return;
        case 'sleep': setTimeout(() => { if (!res.destroyed) res.end('{"result":true}'); }, 1500); return;
        case 'reset': req.socket.resetAndDestroy(); return;
      }
    });
    const route = (action: string, p: string, extra: object = {}) => ({ surface: 'deploys', action, match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: p }, authorize: 'online', ...extra });
    ws = await workspace({
      routes: { routes: [
        route('create', '/v1/deploy/{id}'),
        route('paused', '/v1/paused/{id}', { on_silence: 'pause', pause_max: '3s' }),
        route('paused-short', '/v1/short/{id}', { on_silence: 'pause', pause_max: '1s' }),
      ] },
      config: (c) => { c.decider = { url: decider.url('/v1/data/egress/decision'), timeout: '250ms' }; },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); await decider?.close(); });

  /** A fresh path on a route; the origin must never see a blocked one. */
  const fresh = (prefix: string) => `/v1/${prefix}/${++n}-${Date.now()}`;

  async function expectSilence(p: string, reason: string) {
    const ans = await post(p);
    const id = assertBlocked(assert, ans, 'SILENCE', reason);
    const rec = receiptById(ws.receiptsDir, id);
    assert.equal(rec?.payload.decision, 'SILENCE');
    assert.equal(rec?.payload.reason, reason);
    assert.equal(rec?.payload.enforced, true);
    assert.equal(rec?.payload.surface, 'deploys');
    assert.equal(origin.byPath(p).length, 0, 'the origin saw nothing');
    return ans;
  }

  async function expectPermit(p: string) {
    const ans = await post(p);
    assert.equal(ans.status, 200, ans.text);
    assert.equal(ans.headers['egress-decision'], 'PERMIT');
    assert.equal(receiptById(ws.receiptsDir, ans.headers['egress-receipt'])?.payload.reason, 'DECIDER_PERMIT');
    assert.equal(origin.byPath(p).length, 1);
  }

  it('PERMIT and DENY from the decider; it was asked with the request', async () => {
    mode = 'ok';
    const p = fresh('deploy');
    await expectPermit(p);
    const asked = JSON.parse(decider.hits.at(-1)!.body.toString());
    assert.equal(asked.input.surface, 'deploys');
    assert.equal(asked.input.request.url, url(p));
    assert.equal(asked.input.request.method, 'POST');
    assert.equal(asked.input.gate, 'gate-it');
    mode = 'deny';
    const d = fresh('deploy');
    const ans = await post(d);
    assertBlocked(assert, ans, 'DENY', 'DECIDER_DENY');
    assert.equal(origin.byPath(d).length, 0);
  });

  it('a decider sleeping past the timeout: DECIDER_TIMEOUT within timeout + 200 ms', async () => {
    mode = 'sleep';
    const t0 = Date.now();
    await expectSilence(fresh('deploy'), 'DECIDER_TIMEOUT');
    const took = Date.now() - t0;
    assert.ok(took < 250 + 200, `answered after ${took} ms`);
    mode = 'ok';
    await expectPermit(fresh('deploy'));
  });

  for (const [m, what] of [['500', 'HTTP 500'], ['garbage', 'not JSON'], ['empty', '{} (undefined rule)'], ['yes', '{"result":"yes"}'], ['reset', 'a reset connection']] as [Mode, string][]) {
    it(`${what}: DECIDER_ERROR`, async () => {
      mode = m;
      await expectSilence(fresh('deploy'), 'DECIDER_ERROR');
      mode = 'ok';
      await expectPermit(fresh('deploy'));
    });
  }

  it('down, then up again: fail-fast after 5 failures, recovery after the second', async () => {
    await decider.down();
    for (let i = 0; i < 5; i++) await expectSilence(fresh('deploy'), 'DECIDER_ERROR');
    await decider.up();
    mode = 'ok';
    const hits = decider.hits.length;
    const t0 = Date.now();
    const fast = await expectSilence(fresh('deploy'), 'DECIDER_ERROR');
    assert.ok(Date.now() - t0 < 200);
    assert.match(fast.json.detail, /failing fast/);
    assert.equal(decider.hits.length, hits, 'fail-fast does not ask the decider');
    await sleep(1100);
    await expectPermit(fresh('deploy'));
    assert.equal(decider.hits.length, hits + 1, 'one trial');
  });

  it('pause: held while the decider fails, PERMIT when it returns in time, one receipt', async () => {
    mode = '500';
    setTimeout(() => { mode = 'ok'; }, 700);
    const p = fresh('paused');
    const t0 = Date.now();
    const ans = await post(p);
    const took = Date.now() - t0;
    assert.equal(ans.status, 200, ans.text);
    assert.equal(ans.headers['egress-decision'], 'PERMIT');
    assert.ok(took >= 650 && took < 2500, `held ${took} ms`);
    assert.equal(origin.byPath(p).length, 1);
    const recs = decisionsFor(readReceipts(ws.receiptsDir), url(p));
    assert.equal(recs.length, 1, 'one decision receipt for a held request');
    assert.equal(recs[0].reason, 'DECIDER_PERMIT');
  });

  it('pause that gives up at pause_max: SILENCE with the last reason, one receipt', async () => {
    mode = '500';
    const p = fresh('short');
    const t0 = Date.now();
    await expectSilence(p, 'DECIDER_ERROR');
    const took = Date.now() - t0;
    assert.ok(took >= 800 && took < 1600, `held ${took} ms`);
    assert.equal(decisionsFor(readReceipts(ws.receiptsDir), url(p)).length, 1);
    mode = 'ok';
    await sleep(1100);
    await expectPermit(fresh('deploy'));
  });
});
