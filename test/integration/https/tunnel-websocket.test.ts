/**
 * Tunnel routes (decided at CONNECT on a Bearer permit, then spliced: the client sees the
 * origin's own certificate) and WebSocket upgrades (plain, inside a plain CONNECT, inside
 * TLS interception), through the gate process, with decision and outcome receipts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  freePort, genKey, permitClaims, readReceipts, receiptById, signPermit, startGate, startOrigin, tmpDir, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from '../harness.js';
import { connectThrough, makeCa, makeLeaf, readAnswer, startWsOrigin, tlsOver, wsSession, type TestCa, type WsOrigin } from './kit.js';

describe('https: tunnel routes and WebSocket upgrades', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let originCa: TestCa;
  let secure: Origin;
  let wsPlain: WsOrigin;
  let wsTls: WsOrigin;
  let T: number;
  let D: number;
  let W: number;
  let WS: number;
  let gateCaPem: string;

  async function outcomeOf(id: string) {
    for (let i = 0; i < 60; i++) {
      const out = readReceipts(ws.receiptsDir).find((r) => r.payload.kind === 'outcome' && r.payload.of === id);
      if (out) return out;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }
  const tunnelPermit = (authority: string, key = ws.issuer) =>
    signPermit(key, permitClaims({ surface: 'vault', action: 'tunnel', htm: 'CONNECT', htu: authority }));

  before(async () => {
    const dir = tmpDir('eg-tunnel-ws-');
    const pki = path.join(dir, 'origin-pki');
    originCa = await makeCa(pki, 'origin-ca');
    const leaf = await makeLeaf(pki, originCa, 'origin', ['tun.it', 'ws.it']);
    secure = await startOrigin({ key: leaf.keyPem, cert: leaf.certPem });
    wsPlain = await startWsOrigin();
    wsTls = await startWsOrigin(leaf);
    T = secure.port; W = wsPlain.port; WS = wsTls.port;
    D = await freePort(); // nothing listens here
    ws = await workspace({
      dir,
      routes: {
        routes: [
          { surface: 'vault', action: 'tunnel', match: { scheme: 'https', host: 'tun.it', port: T }, authorize: 'permit', tunnel: true },
          { surface: 'vault', action: 'tunnel', match: { scheme: 'https', host: 'dead.it', port: D }, authorize: 'permit', tunnel: true },
          { surface: 'chat', action: 'stream', match: { scheme: 'http', host: 'ws.it', port: W, method: 'GET', path: '/ws/**' }, authorize: 'none' },
          { surface: 'chat', action: 'refused', match: { scheme: 'http', host: 'ws.it', port: W, method: 'GET', path: '/refuse/**' }, authorize: 'none' },
          { surface: 'chat', action: 'locked', match: { scheme: 'http', host: 'ws.it', port: W, method: 'GET', path: '/locked/**' }, authorize: 'permit' },
          { surface: 'chat', action: 'secure', match: { scheme: 'https', host: 'ws.it', port: WS, method: 'GET', path: '/ws/**' }, authorize: 'none' },
        ],
      },
      config: (c) => {
        c.tls.upstream_ca = [originCa.certPath];
        Object.assign(c.network.hosts, { 'tun.it': '127.0.0.1', 'dead.it': '127.0.0.1', 'ws.it': '127.0.0.1' });
      },
    });
    gateCaPem = fs.readFileSync(ws.caCert, 'utf8');
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await Promise.all([secure?.close(), wsPlain?.close(), wsTls?.close()]); });

  describe('tunnel routes', () => {
    it('a Bearer permit (htm CONNECT, htu host:port) opens a tunnel; the client sees the origin\'s own certificate', async () => {
      const token = tunnelPermit(`tun.it:${T}`);
      const c = await connectThrough(ws.listenPort, `tun.it:${T}`, [`Proxy-Authorization: Bearer ${token}`]);
      assert.equal(c.status, 200, c.head);
      assert.match(c.head, /egress-decision: PERMIT/i);
      const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
      const t = await tlsOver(c.socket, { servername: 'tun.it', ca: originCa.certPem });
      const cert = t.getPeerX509Certificate()!;
      assert.match(cert.issuer, /CN=origin-ca/);
      assert.ok(cert.checkIssued(new (await import('node:crypto')).X509Certificate(originCa.certPem)));
      const p = `/tunneled-${Date.now()}`;
      t.write(`GET ${p} HTTP/1.1\r\nHost: tun.it:${T}\r\nConnection: close\r\n\r\n`);
      const a = await readAnswer(t);
      assert.equal(a.status, 200);
      assert.equal(a.headers['egress-decision'], undefined, 'inside a tunnel the gate adds nothing');
      assert.equal(secure.byPath(p).length, 1);

      const rec = receiptById(ws.receiptsDir, id);
      assert.equal(rec?.payload.decision, 'PERMIT');
      assert.equal(rec?.payload.reason, 'PERMIT_VALID');
      assert.equal(rec?.payload.request.method, 'CONNECT');
      assert.equal(rec?.payload.request.url, `tun.it:${T}`);
      assert.equal(rec?.payload.surface, 'vault');
      assert.ok(rec?.payload.permit.jti);
      const out = await outcomeOf(id!);
      assert.ok(out, 'outcome receipt');
      assert.equal(out.payload.status, 200);
      assert.ok(out.payload.bytes_up > 200, `bytes_up ${out.payload.bytes_up}`);
      assert.ok(out.payload.bytes_down > 500, `bytes_down ${out.payload.bytes_down}`);
      assert.equal(typeof out.payload.duration_ms, 'number');
    });

    async function refused(extra: string[], reason: string) {
      const before = secure.requests.length;
      const c = await connectThrough(ws.listenPort, `tun.it:${T}`, extra);
      const a = await readAnswer(c.socket);
      assert.equal(c.status, 403, c.head);
      const problem = JSON.parse(Buffer.concat([c.rest, Buffer.from(a.raw)]).toString());
      assert.equal(problem.reason, reason);
      assert.equal(problem.type, `urn:egress-gate:reason:${reason}`);
      const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
      assert.equal(problem.receipt, id);
      const rec = receiptById(ws.receiptsDir, id);
      assert.equal(rec?.payload.decision, 'DENY');
      assert.equal(rec?.payload.reason, reason);
      assert.equal(rec?.payload.request.url, `tun.it:${T}`);
      assert.equal(readReceipts(ws.receiptsDir).filter((r) => r.payload.kind === 'outcome' && r.payload.of === id).length, 0);
      assert.equal(secure.requests.length, before);
    }
    it('no Proxy-Authorization is 403 PERMIT_MISSING', () => refused([], 'PERMIT_MISSING'));
    it('a permit under another scheme than Bearer counts as none: PERMIT_MISSING', () => refused([`Proxy-Authorization: Basic ${tunnelPermit(`tun.it:${T}`)}`], 'PERMIT_MISSING'));
    it('a permit signed by an unknown key is refused (PERMIT_SIGNATURE_INVALID)', () => refused([`Proxy-Authorization: Bearer ${tunnelPermit(`tun.it:${T}`, genKey('EdDSA', 'issuer-it-1'))}`], 'PERMIT_SIGNATURE_INVALID'));

    it('an upstream that refuses the connection: 502 problem+json with the receipt id, outcome names the error', async () => {
      const c = await connectThrough(ws.listenPort, `dead.it:${D}`, [`Proxy-Authorization: Bearer ${tunnelPermit(`dead.it:${D}`)}`]);
      const a = await readAnswer(c.socket);
      assert.equal(c.status, 502, c.head);
      const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
      const problem = JSON.parse(Buffer.concat([c.rest, Buffer.from(a.raw)]).toString());
      assert.equal(problem.type, 'urn:egress-gate:upstream:UPSTREAM_ERROR');
      assert.equal(problem.receipt, id);
      assert.equal(receiptById(ws.receiptsDir, id)?.payload.decision, 'PERMIT');
      const out = await outcomeOf(id!);
      assert.equal(out?.payload.status, null);
      assert.match(out?.payload.error, /ECONNREFUSED/);
    });
  });

  describe('WebSocket upgrades', () => {
    async function assertUpgradeReceipts(id: string | undefined, url: string) {
      const rec = receiptById(ws.receiptsDir, id);
      assert.equal(rec?.payload.decision, 'PERMIT');
      assert.equal(rec?.payload.request.method, 'GET');
      assert.equal(rec?.payload.request.url, url);
      const out = await outcomeOf(id!);
      assert.ok(out, 'outcome receipt');
      assert.equal(out.payload.status, 101);
      assert.ok(out.payload.bytes_up > 0 && out.payload.bytes_down > 0, JSON.stringify(out.payload));
      assert.equal(out.payload.error, null);
    }

    it('plain: an absolute-form upgrade on the proxy port is decided, forwarded and spliced', async () => {
      const p = `/ws/plain-${Date.now()}`;
      const s = net.connect(ws.listenPort, '127.0.0.1');
      const r = await wsSession(s, `http://ws.it:${W}${p}`, `ws.it:${W}`, ['hi', 'there'], ['Egress-Permit: not-a-permit']);
      assert.equal(r.status, 101, r.raw);
      assert.equal(r.headers['egress-decision'], 'PERMIT');
      assert.equal(r.headers['x-ws-origin'], 'yes');
      assert.deepEqual(r.echoes, ['echo:hi', 'echo:there']);
      const seen = wsPlain.upgrades.filter((u) => u.url === p);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['egress-permit'], undefined);
      assert.equal(seen[0]!.headers.upgrade, 'websocket');
      assert.equal(seen[0]!.headers.host, `ws.it:${W}`);
      await assertUpgradeReceipts(r.headers['egress-receipt'], `http://ws.it:${W}${p}`);
    });

    it('plain inside CONNECT (ws:// through an HTTPS proxy tunnel)', async () => {
      const p = `/ws/connect-${Date.now()}`;
      const c = await connectThrough(ws.listenPort, `ws.it:${W}`);
      assert.equal(c.status, 200);
      const r = await wsSession(c.socket, p, `ws.it:${W}`, ['x']);
      assert.equal(r.status, 101, r.raw);
      assert.deepEqual(r.echoes, ['echo:x']);
      assert.equal(wsPlain.upgrades.filter((u) => u.url === p).length, 1);
      await assertUpgradeReceipts(r.headers['egress-receipt'], `http://ws.it:${W}${p}`);
    });

    it('inside TLS interception (wss://): the gate leaf to the client, the origin verified against upstream_ca', async () => {
      const p = `/ws/tls-${Date.now()}`;
      const c = await connectThrough(ws.listenPort, `ws.it:${WS}`);
      const t = await tlsOver(c.socket, { servername: 'ws.it', ca: gateCaPem });
      assert.match(t.getPeerX509Certificate()!.issuer, /egress-gate/);
      const r = await wsSession(t, p, `ws.it:${WS}`, ['secure']);
      assert.equal(r.status, 101, r.raw);
      assert.deepEqual(r.echoes, ['echo:secure']);
      assert.equal(wsTls.upgrades.filter((u) => u.url === p).length, 1);
      await assertUpgradeReceipts(r.headers['egress-receipt'], `https://ws.it:${WS}${p}`);
    });

    it('a blocked upgrade gets the problem+json answer and reaches no origin; with a permit it passes', async () => {
      const p = `/locked/${Date.now()}`;
      const r = await wsSession(net.connect(ws.listenPort, '127.0.0.1'), `http://ws.it:${W}${p}`, `ws.it:${W}`, ['no']);
      assert.equal(r.status, 403);
      assert.equal(r.headers['content-type'], 'application/problem+json');
      assert.equal(r.headers['egress-reason'], 'PERMIT_MISSING');
      assert.equal(JSON.parse(r.raw.slice(r.raw.indexOf('\r\n\r\n') + 4)).reason, 'PERMIT_MISSING');
      assert.equal(receiptById(ws.receiptsDir, r.headers['egress-receipt'])?.payload.reason, 'PERMIT_MISSING');
      assert.equal(wsPlain.upgrades.filter((u) => u.url === p).length + wsPlain.plain.filter((u) => u.url === p).length, 0);

      const q = `/locked/ok-${Date.now()}`;
      const token = signPermit(ws.issuer, permitClaims({ surface: 'chat', action: 'locked', htm: 'GET', htu: `http://ws.it:${W}${q}` }));
      const ok = await wsSession(net.connect(ws.listenPort, '127.0.0.1'), `http://ws.it:${W}${q}`, `ws.it:${W}`, ['yes'], [`Egress-Permit: ${token}`]);
      assert.equal(ok.status, 101, ok.raw);
      assert.deepEqual(ok.echoes, ['echo:yes']);
      assert.equal(receiptById(ws.receiptsDir, ok.headers['egress-receipt'])?.payload.reason, 'PERMIT_VALID');
      assert.equal(wsPlain.upgrades.find((u) => u.url === q)?.headers['egress-permit'], undefined);
    });

    it('an origin that refuses the upgrade: its answer is passed on, the connection closed, the outcome records its status', async () => {
      const p = `/refuse/${Date.now()}`;
      const r = await wsSession(net.connect(ws.listenPort, '127.0.0.1'), `http://ws.it:${W}${p}`, `ws.it:${W}`, ['x']);
      assert.equal(r.status, 403);
      assert.equal(r.headers['egress-decision'], 'PERMIT');
      assert.match(r.raw, /\r\n\r\nrefused$/);
      const out = await outcomeOf(r.headers['egress-receipt']!);
      assert.equal(out?.payload.status, 403);
      assert.equal(out?.payload.bytes_down, 7);
    });
  });
});
