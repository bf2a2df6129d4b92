/**
 * A crash never loses a receipt for a request that went out: 200 concurrent requests, the
 * gate killed with SIGKILL in the middle, restarted; the log verifies (every checkpoint the
 * root of the entries before it, with the tlog primitives) and every request the origin
 * received has its PERMIT decision entry inside a checkpointed tree (matched by a unique path
 * per request).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readCheckpoints, readReceipts, startGate, startOrigin, viaProxy, workspace, adminGet, type GateWorkspace, type Origin } from './harness.js';
import { checkV2Log } from '../fixtures/receipts/receipt-fixtures.js';
import { openCheckpoint } from '../../receipts/tlog/checkpoint.js';

describe('crash: kill -9 under load', () => {
  let origin: Origin;
  let ws: GateWorkspace;

  before(async () => {
    origin = await startOrigin();
    ws = await workspace({
      routes: { routes: [{ surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: origin.port, method: '*', path: '/c/**' }, authorize: 'none' }] },
    });
  });
  after(async () => { await origin?.close(); });

  it('every request the origin received has a durable PERMIT receipt, and the log verifies after restart', async () => {
    const gate = await startGate(ws);
    const vkey = (await adminGet(ws.adminPort, '/receipts/key')).text.trim();
    const N = 200;
    const sends = Array.from({ length: N }, (_, i) => viaProxy(ws.listenPort, `http://open.it:${origin.port}/c/req-${i}`).catch(() => null));
    // Kill once some requests have gone through, while others are in flight.
    while (origin.requests.length < 40) await new Promise((r) => setTimeout(r, 2));
    await gate.kill9();
    await Promise.all(sends);

    const restarted = await startGate(ws);
    await restarted.stop();

    checkV2Log(ws.receiptsDir, vkey);
    // Sealed: every PERMIT entry is below the size of a checkpoint that verifies.
    const sealed = Math.max(...readCheckpoints(ws.receiptsDir).map((c) => openCheckpoint(c.note, vkey).size));
    const permitted = new Set(readReceipts(ws.receiptsDir)
      .filter((r) => r.payload.kind === 'decision' && r.payload.decision === 'PERMIT' && r.payload.seq < sealed)
      .map((r) => new URL(r.payload.request.url).pathname));
    const reached = origin.requests.filter((r) => r.url.startsWith('/c/req-'));
    assert.ok(reached.length >= 40, `origin received ${reached.length}`);
    for (const r of reached) assert.ok(permitted.has(r.url), `origin got ${r.url} without a PERMIT receipt`);
  });
});
