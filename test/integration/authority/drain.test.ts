/**
 * SIGTERM under load: 50 requests held at a slow origin when the signal arrives all finish
 * with 200, each with its decision and outcome receipts, `stop` is the last receipt, exit 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readReceipts, startGate, viaProxy, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { eventually, switchable, type Switchable } from './authority-kit.js';

const N = 50;

describe('authority: SIGTERM drains in-flight requests', () => {
  let slow: Switchable;
  let ws: GateWorkspace;
  let gate: GateProcess;

  before(async () => {
    slow = await switchable((_req, _b, res) => { setTimeout(() => res.end('slow ok'), 1500); });
    ws = await workspace({
      routes: { routes: [{ surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: slow.port, method: 'GET', path: '/slow/**' }, authorize: 'none' }] },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await slow?.close(); });

  it(`${N} requests at a slow origin finish with 200; stop is the last receipt; exit 0`, async () => {
    const answers = Array.from({ length: N }, (_, i) => viaProxy(ws.listenPort, `http://open.it:${slow.port}/slow/${i}`));
    await eventually(() => slow.hits.length === N, 5000, 'every request at the origin');
    const code = await gate.stop();
    const done = await Promise.all(answers);
    assert.equal(code, 0);
    for (const a of done) {
      assert.equal(a.status, 200);
      assert.equal(a.text, 'slow ok');
    }
    const lines = readReceipts(ws.receiptsDir).map((l) => l.payload);
    const last = lines.at(-1);
    assert.equal(last.kind, 'lifecycle');
    assert.equal(last.event, 'stop');
    assert.equal(lines.filter((p) => p.event === 'stop').length, 1);
    const decisions = lines.filter((p) => p.kind === 'decision');
    const outcomes = lines.filter((p) => p.kind === 'outcome');
    assert.equal(decisions.length, N);
    assert.equal(outcomes.length, N, 'every outcome written before stop');
    assert.ok(outcomes.every((o) => o.status === 200));
    assert.deepEqual(lines.map((p) => p.seq), lines.map((_, i) => i), 'one unbroken sequence');
  });
});
