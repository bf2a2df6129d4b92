/**
 * Proxy-Authorization and the permit header are the proxy's own: they are read by the gate
 * and never forwarded (SPEC §4). A plain-HTTP request through the proxy that carries both —
 * to a permit route (the permit checked and spent) and to a `none` route — reaches the origin
 * without either, and its decision receipt names the permit but holds no header value.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { permitClaims, signPermit, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { shownReceipt } from '../receipts/show.js';

describe('network: Proxy-Authorization is never forwarded', () => {
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let P: number;

  before(async () => {
    origin = await startOrigin();
    P = origin.port;
    ws = await workspace({
      routes: {
        routes: [
          { surface: 'notes', action: 'create', match: { scheme: 'http', host: 'api.it', port: P, method: 'POST', path: '/notes/**' }, authorize: 'permit' },
          { surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: P, method: 'GET', path: '/pub/**' }, authorize: 'none' },
        ],
      },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  const proxyAuth = 'Bearer proxy-credential-must-not-leave';

  it('a permit route: the origin sees neither Proxy-Authorization nor Egress-Permit; the receipt is PERMIT_VALID without header values', async () => {
    const p = `/notes/pa-${Date.now()}`;
    const url = `http://api.it:${P}${p}`;
    const claims = permitClaims({ surface: 'notes', action: 'create', htm: 'POST', htu: url });
    const permit = signPermit(ws.issuer, claims);
    const a = await viaProxy(ws.listenPort, url, {
      method: 'POST', body: '{"n":1}',
      headers: { 'content-type': 'application/json', 'egress-permit': permit, 'proxy-authorization': proxyAuth, 'x-kept': 'yes' },
    });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers['egress-decision'], 'PERMIT');
    const seen = origin.byPath(p);
    assert.equal(seen.length, 1, 'forwarded once');
    assert.equal(seen[0]!.headers['x-kept'], 'yes', 'ordinary headers still go upstream');
    assert.equal(seen[0]!.headers['proxy-authorization'], undefined, 'Proxy-Authorization reached the origin');
    assert.equal(seen[0]!.headers['egress-permit'], undefined, 'the permit reached the origin');
    const raw = JSON.stringify(seen[0]!.headers);
    assert.ok(!raw.includes(permit) && !raw.includes('proxy-credential-must-not-leave'), 'no header value of the proxy\'s own reached the origin');

    const rec = shownReceipt(ws.receiptsDir, a.headers['egress-receipt'] as string);
    assert.equal(rec?.kind, 'decision');
    assert.equal(rec?.decision, 'PERMIT');
    assert.equal(rec?.reason, 'PERMIT_VALID');
    assert.equal(rec?.permit?.jti, claims.jti);
    const text = JSON.stringify(rec);
    assert.ok(!text.includes(permit) && !text.includes('proxy-credential-must-not-leave'), 'the receipt holds no header value');
  });

  it('a none route: Proxy-Authorization and a stray permit header are dropped too', async () => {
    const p = `/pub/pa-${Date.now()}`;
    const a = await viaProxy(ws.listenPort, `http://open.it:${P}${p}`, { headers: { 'proxy-authorization': proxyAuth, 'egress-permit': 'stray-permit-value' } });
    assert.equal(a.status, 200, a.text);
    const rec = shownReceipt(ws.receiptsDir, a.headers['egress-receipt'] as string);
    assert.equal(rec?.decision, 'PERMIT');
    assert.equal(rec?.reason, 'NO_PERMIT_REQUIRED');
    const seen = origin.byPath(p);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['proxy-authorization'], undefined, 'Proxy-Authorization reached the origin');
    assert.equal(seen[0]!.headers['egress-permit'], undefined, 'the permit header reached the origin');
  });
});
