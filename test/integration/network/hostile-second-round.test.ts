/**
 * Issue 17, the second red-team round, over raw sockets against the real gate process: every
 * way a connection could hand bytes over without a decision per request — non-WebSocket
 * upgrades, path parameters on dot segments, requests pipelined behind a refusal, odd
 * Transfer-Encodings, CONNECT inside a tunnel — is answered REQUEST_INVALID with its receipt,
 * and the origin receives nothing. Also: the 408 at header_timeout is asserted in
 * requests.test.ts; a client that aborts a body-bound upload is a client abort, not a gate failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { adminGet, permitClaims, readReceipts, receiptById, signPermit, startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { parseAnswer, rawRequest, upgradeOrigin, type RawAnswer, type UpgradeOrigin } from './raw-http.js';

/** A raw client conversation: write, and wait for what the gate sends. */
export class RawConversation {
  readonly socket: net.Socket | tls.TLSSocket;
  private buf = '';
  closed = false;
  private waiters: (() => void)[] = [];
  constructor(socket: net.Socket | tls.TLSSocket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => { this.buf += d.toString('latin1'); this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', () => undefined);
  }
  static open(port: number): Promise<RawConversation> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawConversation(s)));
      s.once('error', reject);
    });
  }
  private wake(): void { for (const w of this.waiters.splice(0)) w(); }
  get text(): string { return this.buf; }
  write(bytes: string): void { this.socket.write(bytes); }
  /** Resolves when `re` matches what arrived, or after `ms` / the close (check .text). */
  async until(re: RegExp, ms = 3000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!re.test(this.buf) && !this.closed && Date.now() < end) {
      await new Promise<void>((r) => { const t = setTimeout(r, Math.max(1, end - Date.now())); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
    return re.test(this.buf);
  }
  /** Takes the text so far, emptying the buffer. */
  take(): string { const t = this.buf; this.buf = ''; return t; }
  close(): void { this.socket.destroy(); }
}

describe('network: hostile input, second round (issue 17)', () => {
  let origin: UpgradeOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let A: string;
  let P = 0;

  before(async () => {
    origin = await upgradeOrigin();
    P = origin.port;
    A = `open.it:${P}`;
    ws = await workspace({
      routes: { routes: [
        { surface: 'public', action: 'read', match: { host: 'open.it', port: P, method: '*', path: '/open/**' }, authorize: 'none' },
        { surface: 'public', action: 'locked', match: { host: 'open.it', port: P, method: '*', path: '/deny/**' }, authorize: 'deny' },
        { surface: 'pay', action: 'create', match: { scheme: 'http', host: 'api.it', port: P, method: 'POST', path: '/p/**' }, authorize: 'permit' },
        { surface: 'files', action: 'upload', match: { scheme: 'http', host: 'api.it', port: P, method: 'POST', path: '/upload/**' }, authorize: 'permit', bind_body: true },
      ] },
      config: (c) => { c.limits = { upstream_timeout: '5s', header_timeout: '2s' }; },
    });
    gate = await startGate(ws);
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
    if (ws) fs.rmSync(ws.dir, { recursive: true, force: true });
  });

  const seenUnder = (prefix: string) => origin.seen.filter((s) => s.split(' ')[1]!.startsWith(prefix));
  const decisionsFor = (pathPart: string) => readReceipts(ws.receiptsDir).filter((r) => r.payload.kind === 'decision' && String(r.payload.request?.url ?? '').includes(pathPart));

  /** The answer is 400 REQUEST_INVALID with problem+json, and its receipt says DENY REQUEST_INVALID. */
  function assertInvalid(a: RawAnswer, what: string): void {
    assert.equal(a.status, 400, `${what}: ${a.raw.slice(0, 400)}`);
    assert.equal(a.headers['egress-reason'], 'REQUEST_INVALID', what);
    assert.equal(a.json?.reason, 'REQUEST_INVALID', what);
    assert.equal(a.headers.connection, 'close', what);
    const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
    assert.equal(rec?.payload.decision, 'DENY', what);
    assert.equal(rec?.payload.reason, 'REQUEST_INVALID', what);
  }

  describe('1. only a decided WebSocket upgrade is spliced', () => {
    const up = (method: string, path: string, lines: string) => `${method} http://${A}${path} HTTP/1.1\r\nHost: ${A}\r\n${lines}\r\n`;
    const cases: [string, (p: string) => string][] = [
      ['Upgrade: h2c (the issue)', (p) => up('GET', p, 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n')],
      ['Upgrade: H2C in capitals', (p) => up('GET', p, 'Connection: upgrade\r\nUpgrade: H2C\r\n')],
      ['an unknown token', (p) => up('GET', p, 'Connection: Upgrade\r\nUpgrade: foo/1\r\n')],
      ['several tokens, websocket first', (p) => up('GET', p, 'Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n')],
      ['several tokens, websocket last', (p) => up('GET', p, 'Connection: Upgrade\r\nUpgrade: h2c, websocket\r\n')],
      ['two Upgrade lines', (p) => up('GET', p, 'Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n')],
      ['websocket on a POST', (p) => up('POST', p, 'Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n')],
      ['websocket with a body', (p) => up('GET', p, 'Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n') + 'hello'],
      ['Upgrade without Connection: upgrade', (p) => up('GET', p, 'Upgrade: h2c\r\n')],
      ['Connection: upgrade without an Upgrade header', (p) => up('GET', p, 'Connection: Upgrade\r\n')],
      ['h2c on HTTP/1.0', (p) => `GET http://${A}${p} HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`],
    ];
    cases.forEach(([name, bytes], i) => {
      it(`${name}: 400 REQUEST_INVALID, never spliced, and the request sent after it reaches nobody`, async () => {
        const p = `/open/up-${i}`;
        const c = await RawConversation.open(ws.listenPort);
        c.write(bytes(p));
        await c.until(/\r\n\r\n/);
        // What the issue sent through the splice: a request for a deny route.
        if (!c.closed) c.write(`GET /deny/through-${i} HTTP/1.1\r\nHost: ${A}\r\n\r\n`);
        await c.until(/$^/, 800);
        c.close();
        assertInvalid(parseAnswer(c.text), name);
        assert.equal((c.text.match(/HTTP\/1\.[01] \d{3}/g) ?? []).length, 1, `one answer: ${c.text}`);
        assert.deepEqual(seenUnder(p), [], 'the origin saw nothing of the upgrade');
        assert.deepEqual(seenUnder(`/deny/through-${i}`), [], 'the request behind it reached nobody');
        assert.deepEqual(decisionsFor(`/deny/through-${i}`), [], 'and was not decided');
      });
    });

    it('a WebSocket upgrade (GET, Upgrade: websocket, Connection: Upgrade) is still decided and spliced', async () => {
      const c = await RawConversation.open(ws.listenPort);
      c.write(up('GET', '/open/ws-ok', 'Connection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'));
      assert.ok(await c.until(/\r\n\r\n/), c.text);
      const a = parseAnswer(c.text);
      assert.equal(a.status, 101, c.text);
      c.write('frame-bytes');
      for (let t = 0; t < 40 && !origin.afterUpgrade.some((x) => x.includes('frame-bytes')); t++) await new Promise((r) => setTimeout(r, 50));
      c.close();
      assert.deepEqual(seenUnder('/open/ws-ok'), ['GET /open/ws-ok']);
      assert.equal(receiptById(ws.receiptsDir, a.headers['egress-receipt'])?.payload.decision, 'PERMIT');
    });

    it('an origin that switches a WebSocket upgrade to another protocol is not spliced (502)', async () => {
      const a = await rawRequest(ws.listenPort, up('GET', '/open/answer-h2c', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'), 1500);
      assert.equal(a.status, 502, a.raw);
      assert.equal((a.raw.match(/HTTP\/1\.1 101/g) ?? []).length, 0);
    });
  });

  describe('2. path parameters on dot segments', () => {
    const paths = ['/open/x/..;/admin', '/open/x/..;jsessionid=1/admin', '/open/x/.;/..;/admin', '/open/x/%2e%2e;/admin', '/open/x/%2E%2E;x/admin', '/open/x/.%2e;/admin', '/open/x/..%3B/admin', '/open/x/..;'];
    for (const p of paths) {
      it(`${p}: 400 REQUEST_INVALID, the origin sees nothing`, async () => {
        const a = await rawRequest(ws.listenPort, `GET http://${A}${p} HTTP/1.1\r\nHost: ${A}\r\nConnection: close\r\n\r\n`);
        assertInvalid(a, p);
        assert.deepEqual(seenUnder('/open/x/'), []);
        assert.deepEqual(seenUnder('/open/admin'), []);
      });
    }
    it('a parameter on an ordinary segment still passes (/open/a;v=1)', async () => {
      const a = await rawRequest(ws.listenPort, `GET http://${A}/open/a;v=1 HTTP/1.1\r\nHost: ${A}\r\nConnection: close\r\n\r\n`);
      assert.equal(a.status, 200, a.raw);
      assert.deepEqual(seenUnder('/open/a;v=1'), ['GET /open/a;v=1']);
    });
  });

  describe('3. nothing pipelined behind a REQUEST_INVALID is decided or forwarded', () => {
    it('a pipelined GET behind an invalid request (one write) is not forwarded nor decided', async () => {
      const bad = `GET http://${A}/open/a%2Fb HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      const next = `GET http://${A}/open/pipelined-get HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      const raw = await rawRequest(ws.listenPort, bad + next, 1500);
      assertInvalid(raw, 'the bad one');
      assert.equal((raw.raw.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, raw.raw);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seenUnder('/open/pipelined-get'), []);
      assert.deepEqual(decisionsFor('/open/pipelined-get'), []);
    });

    it('a pipelined POST behind an invalid request does not spend its permit', async () => {
      const htu = `http://api.it:${P}/p/charge-1`;
      const token = signPermit(ws.issuer, permitClaims({ surface: 'pay', action: 'create', htm: 'POST', htu }));
      const post = `POST ${htu} HTTP/1.1\r\nHost: api.it:${P}\r\nEgress-Permit: ${token}\r\nContent-Length: 2\r\n\r\n{}`;
      const bad = `GET http://${A}/open/x/..;/admin HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      const raw = await rawRequest(ws.listenPort, bad + post, 1500);
      assertInvalid(raw, 'the bad one');
      assert.equal((raw.raw.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, raw.raw);
      assert.deepEqual(seenUnder('/p/charge-1'), []);
      assert.deepEqual(decisionsFor('/p/charge-1'), []);
      // Not spent: the same permit is still good on its own connection.
      const again = await rawRequest(ws.listenPort, post.replace('Content-Length: 2', 'Connection: close\r\nContent-Length: 2'));
      assert.equal(again.status, 200, again.raw);
      assert.deepEqual(seenUnder('/p/charge-1'), ['POST /p/charge-1']);
    });

    it('an upgrade and a CONNECT pipelined behind an invalid request are not decided', async () => {
      const bad = `GET http://${A}/open/a%2Fb HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      const upg = `GET http://${A}/open/pipelined-ws HTTP/1.1\r\nHost: ${A}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
      const raw = await rawRequest(ws.listenPort, bad + upg, 1500);
      assertInvalid(raw, 'the bad one');
      const raw2 = await rawRequest(ws.listenPort, bad + `CONNECT open.it:${P} HTTP/1.1\r\nHost: open.it:${P}\r\n\r\n`, 1500);
      assertInvalid(raw2, 'the bad one');
      assert.equal((raw.raw + raw2.raw).match(/HTTP\/1\.1 \d{3}/g)?.length, 2);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seenUnder('/open/pipelined-ws'), []);
      assert.deepEqual(decisionsFor('/open/pipelined-ws'), []);
      assert.deepEqual(readReceipts(ws.receiptsDir).filter((r) => r.payload.request?.method === 'CONNECT'), []);
    });

    it('a request behind one that asked to close (Connection: close) is not decided', async () => {
      const first = `GET http://${A}/open/closing HTTP/1.1\r\nHost: ${A}\r\nConnection: close\r\n\r\n`;
      const raw = await rawRequest(ws.listenPort, first + `GET http://${A}/open/behind-close HTTP/1.1\r\nHost: ${A}\r\n\r\n`, 1500);
      assert.equal(raw.status, 200, raw.raw);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seenUnder('/open/behind-close'), []);
      assert.deepEqual(decisionsFor('/open/behind-close'), []);
    });

    it('well-formed pipelined requests are each decided and answered in order', async () => {
      const g = (p: string) => `GET http://${A}${p} HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      const raw = await rawRequest(ws.listenPort, g('/open/pipe-1') + g('/open/pipe-2') + g('/open/pipe-3'), 1500);
      assert.equal((raw.raw.match(/HTTP\/1\.1 200/g) ?? []).length, 3, raw.raw);
      assert.deepEqual(origin.seen.filter((s) => s.includes('/open/pipe-')), ['GET /open/pipe-1', 'GET /open/pipe-2', 'GET /open/pipe-3']);
    });
  });

  describe('4. Transfer-Encoding other than chunked alone', () => {
    const tes: [string, string][] = [
      ['gzip, chunked', 'Transfer-Encoding: gzip, chunked\r\n'],
      ['chunked, chunked', 'Transfer-Encoding: chunked, chunked\r\n'],
      ['two chunked lines', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n'],
      ['identity', 'Transfer-Encoding: identity\r\n'],
      ['identity, chunked', 'Transfer-Encoding: identity, chunked\r\n'],
    ];
    tes.forEach(([name, line], i) => {
      it(`Transfer-Encoding: ${name} → 400 REQUEST_INVALID with a receipt, the origin sees nothing`, async () => {
        const p = `/open/te-${i}`;
        const a = await rawRequest(ws.listenPort, `POST http://${A}${p} HTTP/1.1\r\nHost: ${A}\r\n${line}Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
        assertInvalid(a, name);
        assert.deepEqual(seenUnder(p), []);
      });
    });
    it('Transfer-Encoding: chunked alone still passes', async () => {
      const a = await rawRequest(ws.listenPort, `POST http://${A}/open/te-ok HTTP/1.1\r\nHost: ${A}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
      assert.equal(a.status, 200, a.raw);
    });
  });

  describe('5. a CONNECT inside a tunnel', () => {
    async function tunnel(): Promise<RawConversation> {
      const c = await RawConversation.open(ws.listenPort);
      c.write(`CONNECT open.it:${P} HTTP/1.1\r\nHost: open.it:${P}\r\n\r\n`);
      assert.ok(await c.until(/^HTTP\/1\.1 200[^\r]*\r\n\r\n/), c.text);
      c.take();
      return c;
    }
    const inner = `CONNECT open.it:${'PORT'} HTTP/1.1\r\nHost: open.it:PORT\r\n\r\nGET /open/behind-inner-connect HTTP/1.1\r\nHost: open.it:PORT\r\n\r\n`;

    it('plain: answered 400 REQUEST_INVALID with its receipt; nothing reaches the origin', async () => {
      const c = await tunnel();
      c.write(inner.replaceAll('PORT', String(P)));
      await c.until(/\r\n\r\n[\s\S]*\}/);
      await c.until(/$^/, 500);
      c.close();
      assertInvalid(parseAnswer(c.text), 'inner CONNECT');
      assert.deepEqual(seenUnder('/open/behind-inner-connect'), []);
    });

    it('inside intercepted TLS: answered 400 REQUEST_INVALID with its receipt; nothing reaches the origin', async () => {
      const c = await tunnel();
      c.socket.removeAllListeners('data');
      const t = tls.connect({ socket: c.socket as net.Socket, servername: 'open.it', ca: fs.readFileSync(ws.caCert, 'utf8') });
      await new Promise<void>((resolve, reject) => { t.once('secureConnect', () => resolve()); t.once('error', reject); });
      const tc = new RawConversation(t);
      tc.write(inner.replaceAll('PORT', String(P)));
      await tc.until(/\r\n\r\n[\s\S]*\}/);
      await tc.until(/$^/, 500);
      tc.close();
      assertInvalid(parseAnswer(tc.text), 'inner CONNECT over TLS');
      assert.deepEqual(seenUnder('/open/behind-inner-connect'), []);
    });
  });

  describe('7. a client that aborts a body-bound upload half-way', () => {
    it('is recorded DENY REQUEST_INVALID (client aborted the body), not SILENCE INTERNAL_ERROR', async () => {
      const htu = `http://api.it:${P}/upload/half`;
      const token = signPermit(ws.issuer, permitClaims({ surface: 'files', action: 'upload', htm: 'POST', htu }));
      const c = await RawConversation.open(ws.listenPort);
      c.write(`POST ${htu} HTTP/1.1\r\nHost: api.it:${P}\r\nEgress-Permit: ${token}\r\nContent-Length: 10000\r\n\r\n${'a'.repeat(1000)}`);
      await new Promise((r) => setTimeout(r, 300));
      c.close();
      let d: ReturnType<typeof decisionsFor> = [];
      for (let t = 0; t < 60 && d.length === 0; t++) { await new Promise((r) => setTimeout(r, 50)); d = decisionsFor('/upload/half'); }
      assert.equal(d.length, 1, "one decision entry");
      assert.equal(d[0]!.payload.decision, 'DENY');
      assert.equal(d[0]!.payload.reason, 'REQUEST_INVALID');
      assert.match(gate.output(), /"reason":"REQUEST_INVALID"[^\n]*"detail":"the client aborted the body[^"]*"/);
      const metrics = (await adminGet(ws.adminPort, '/metrics')).text;
      assert.doesNotMatch(metrics, /egress_gate_decisions_total\{[^}]*reason="INTERNAL_ERROR"/);
      assert.deepEqual(seenUnder('/upload/half'), []);
    });
  });
});
