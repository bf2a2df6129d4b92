/**
 * A crash never loses a receipt for a request that went out: 200 concurrent requests, the
 * gate killed with SIGKILL in the middle, restarted; the log verifies and every request the
 * origin received has its PERMIT decision receipt (matched by a unique path per request).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { cli, readReceipts, startGate, startOrigin, viaProxy, workspace, adminGet, type GateWorkspace, type Origin } from './harness.js';

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
    const jwks = (await adminGet(ws.adminPort, '/jwks.json')).text;
    const N = 200;
    const sends = Array.from({ length: N }, (_, i) => viaProxy(ws.listenPort, `http://open.it:${origin.port}/c/req-${i}`).catch(() => null));
    // Kill once some requests have gone through, while others are in flight.
    while (origin.requests.length < 40) await new Promise((r) => setTimeout(r, 2));
    await gate.kill9();
    await Promise.all(sends);

    const restarted = await startGate(ws);
    await restarted.stop();

    const jwksPath = path.join(ws.dir, 'jwks.json');
    fs.writeFileSync(jwksPath, jwks);
    const v = cli(['receipts', 'verify', '--key', jwksPath, ws.receiptsDir]);
    assert.equal(v.code, 0, `receipts verify after kill -9: ${v.stdout}${v.stderr}`);

    const permitted = new Set(readReceipts(ws.receiptsDir)
      .filter((r) => r.payload.kind === 'decision' && r.payload.decision === 'PERMIT')
      .map((r) => new URL(r.payload.request.url).pathname));
    const reached = origin.requests.filter((r) => r.url.startsWith('/c/req-'));
    assert.ok(reached.length >= 40, `origin received ${reached.length}`);
    for (const r of reached) assert.ok(permitted.has(r.url), `origin got ${r.url} without a PERMIT receipt`);
  });
});
