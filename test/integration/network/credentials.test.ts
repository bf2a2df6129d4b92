/**
 * Credential brokering (SPEC §4): the gate sets a route's credential header from secrets.dir
 * only on an enforced PERMIT, replacing whatever the agent sent; a DENY, an unmatched request
 * and a report-mode forward of a non-PERMIT never carry it; receipts name the secret, never
 * its value, and the value appears nowhere in the receipt folder or the gate's output.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  permitClaims, receiptById, signPermit, startGate, viaProxy, workspace, type GateProcess, type GateWorkspace,
} from '../harness.js';
import { countingOrigin, type CountingOrigin } from './raw-http.js';

const SECRET = 'sk_live_GATE-ONLY-7d41c9e0';
const SECRET2 = 'sk_live_ROTATED-55aa01';

describe('network: credential brokering', () => {
  let origin: CountingOrigin;
  const seen: http.IncomingHttpHeaders[] = [];
  let ws: GateWorkspace;
  let gate: GateProcess;
  let P: number;
  const headersFor = (p: string) => seen[origin.hits.findIndex((h) => h === `GET ${p}` || h === `POST ${p}`)];

  before(async () => {
    origin = await countingOrigin('127.0.0.1', 0, seen);
    P = origin.port;
    const cred = () => ({ header: 'Authorization', value: 'Bearer ${secret:api-key}' });
    const r = (action: string, p: string, authorize: string, extra: object = {}) => ({
      surface: 'vendor', action, match: { scheme: 'http', host: 'api.it', port: P, method: '*', path: p }, authorize, credentials: cred(), ...extra,
    });
    ws = await workspace({
      routes: { routes: [
        r('none', '/none', 'none'),
        r('permit', '/permit', 'permit'),
        r('report', '/report', 'permit', { mode: 'report' }),
        r('deny', '/deny', 'deny'),
        { surface: 'vendor', action: 'key', match: { scheme: 'http', host: 'api.it', port: P, method: '*', path: '/key' }, authorize: 'none', credentials: { header: 'X-Api-Key', value: '${secret:api-key}' } },
      ] },
      config: (c) => { c.secrets = { dir: './secrets' }; },
    });
    fs.mkdirSync(path.join(ws.dir, 'secrets'));
    fs.writeFileSync(path.join(ws.dir, 'secrets', 'api-key'), `${SECRET}\n`, { mode: 0o600 });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('sets the secret on a PERMIT, replacing the Authorization the agent sent', async () => {
    const a = await viaProxy(ws.listenPort, `http://api.it:${P}/none`, { headers: { authorization: 'Bearer agent-own-token' } });
    assert.equal(a.status, 200, a.text);
    assert.equal(headersFor('/none')?.authorization, `Bearer ${SECRET}`);
    const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
    assert.equal(rec?.payload.credential, 'api-key');
  });

  it('replaces a differently cased agent header of the same name, leaving exactly one value', async () => {
    const a = await viaProxy(ws.listenPort, `http://api.it:${P}/key`, { headers: { 'x-API-key': 'agent-own-key' } });
    assert.equal(a.status, 200, a.text);
    assert.equal(headersFor('/key')?.['x-api-key'], SECRET);
  });

  it('sets it after a valid permit, and not on PERMIT_MISSING (the origin sees nothing)', async () => {
    const before = origin.hits.length;
    const denied = await viaProxy(ws.listenPort, `http://api.it:${P}/permit`, { headers: { authorization: 'Bearer agent-own-token' } });
    assert.equal(denied.headers['egress-reason'], 'PERMIT_MISSING');
    assert.equal(receiptById(ws.receiptsDir, denied.headers['egress-receipt'])?.payload.credential, null);
    assert.equal(origin.hits.length, before);
    assert.ok(!denied.text.includes(SECRET));
    const tok = signPermit(ws.issuer, permitClaims({ surface: 'vendor', action: 'permit', htm: 'GET', htu: `http://api.it:${P}/permit` }));
    const ok = await viaProxy(ws.listenPort, `http://api.it:${P}/permit`, { headers: { 'egress-permit': tok, authorization: 'Bearer agent-own-token' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.headers['egress-decision'], 'PERMIT');
    assert.equal(headersFor('/permit')?.authorization, `Bearer ${SECRET}`);
  });

  it('a route deny never forwards and never names the credential', async () => {
    const a = await viaProxy(ws.listenPort, `http://api.it:${P}/deny`);
    assert.equal(a.headers['egress-reason'], 'ROUTE_DENY');
    assert.equal(origin.hits.includes('GET /deny'), false);
    assert.equal(receiptById(ws.receiptsDir, a.headers['egress-receipt'])?.payload.credential, null);
  });

  it('report mode forwards a non-PERMIT without the secret (the agent keeps its own header)', async () => {
    const a = await viaProxy(ws.listenPort, `http://api.it:${P}/report`, { headers: { authorization: 'Bearer agent-own-token' } });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers['egress-enforced'], 'false');
    assert.equal(a.headers['egress-decision'], 'DENY');
    assert.equal(headersFor('/report')?.authorization, 'Bearer agent-own-token');
    assert.equal(receiptById(ws.receiptsDir, a.headers['egress-receipt'])?.payload.credential, null);
    const bare = await viaProxy(ws.listenPort, `http://api.it:${P}/report?bare=1`);
    assert.equal(bare.status, 200);
    assert.equal(seen[origin.hits.lastIndexOf('GET /report?bare=1')]?.authorization, undefined);
  });

  it('the secret appears nowhere in the receipt folder (raw or decoded) or in the gate output', () => {
    const files = fs.readdirSync(ws.receiptsDir).filter((f) => !f.startsWith('.'));
    assert.ok(files.length > 0);
    for (const f of files) {
      const text = fs.readFileSync(path.join(ws.receiptsDir, f), 'utf8');
      const decoded = text.split('\n').filter(Boolean).map((l) => l.split('.').map((p) => Buffer.from(p, 'base64url').toString('utf8')).join('\n')).join('\n');
      for (const t of [text, decoded]) assert.ok(!t.includes(SECRET) && !t.includes('GATE-ONLY'), `secret in ${f}`);
    }
    assert.ok(!gate.output().includes('GATE-ONLY'), 'secret in the gate output');
  });

  // A rotated secret changes no route-map text (the digest stays); the reload still swaps it in.
  it('after SIGHUP, a rotated secret file is what the origin receives', async () => {
    fs.writeFileSync(path.join(ws.dir, 'secrets', 'api-key'), `${SECRET2}\n`);
    gate.proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 800));
    const a = await viaProxy(ws.listenPort, `http://api.it:${P}/none?rotated=1`);
    assert.equal(a.status, 200);
    assert.equal(seen[origin.hits.lastIndexOf('GET /none?rotated=1')]?.authorization, `Bearer ${SECRET2}`);
    assert.ok(!gate.output().includes('ROTATED'));
  });

  it('a secret rotated the way kubelet does it (rename into secrets.dir) is picked up without SIGHUP', async () => {
    const SECRET3 = 'sk_live_WATCHED-0b7c33';
    const tmp = path.join(ws.dir, 'secrets', '.api-key.tmp');
    fs.writeFileSync(tmp, `${SECRET3}\n`);
    fs.renameSync(tmp, path.join(ws.dir, 'secrets', 'api-key'));
    let got: string | string[] | undefined;
    for (let i = 0; i < 30 && got !== `Bearer ${SECRET3}`; i++) {
      await new Promise((r) => setTimeout(r, 200));
      await viaProxy(ws.listenPort, `http://api.it:${P}/none?watched=${i}`);
      got = seen[origin.hits.lastIndexOf(`GET /none?watched=${i}`)]?.authorization;
    }
    assert.equal(got, `Bearer ${SECRET3}`);
    assert.ok(!gate.output().includes('WATCHED'));
  });
});
