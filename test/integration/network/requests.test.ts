/**
 * Hostile requests over raw sockets against the real gate process (SPEC §4, §7): ambiguous
 * framing, repeated identity headers, origin-form, Host/URI mismatch, bad paths, oversized and
 * over-counted headers, slow-drip headers, malformed bytes. Each is REQUEST_INVALID (400) —
 * from the pipeline with a receipt, or from the HTTP parser with a log line and a metric —
 * and the origin sees nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { adminGet, cli, receiptById, startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { countingOrigin, parseAnswer, rawRequest, type CountingOrigin } from './raw-http.js';

describe('network: hostile requests', () => {
  let origin: CountingOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let A: string;
  const parseErrors = async () => Number(/^egress_gate_parse_errors_total (\d+)$/m.exec((await adminGet(ws.adminPort, '/metrics')).text)?.[1]);

  before(async () => {
    origin = await countingOrigin('127.0.0.1');
    A = `open.it:${origin.port}`;
    ws = await workspace({
      routes: { routes: [
        { surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: origin.port, method: '*', path: '/open/**' }, authorize: 'none' },
        { surface: 'pay', action: 'create', match: { scheme: 'http', host: 'api.it', port: origin.port, method: '*', path: '/p' }, authorize: 'permit' },
      ] },
      config: (c) => { c.limits = { upstream_timeout: '5s', header_timeout: '1s' }; },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  const req = (head: string, extra = '', body = '') => `${head}\r\n${extra}Connection: close\r\n\r\n${body}`;
  /** [name, bytes, who refuses: the pipeline (with a receipt) or the HTTP parser (no receipt)] */
  const cases = (): [string, string, 'pipeline' | 'parser'][] => [
    ['repeated Host', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nHost: ${A}\r\n`), 'pipeline'],
    ['repeated Host differing in case', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nhOST: api.it:${(origin?.port ?? 0)}\r\n`), 'pipeline'],
    ['missing Host (HTTP/1.1)', req(`GET http://${A}/open/a HTTP/1.1`), 'pipeline'],
    ['repeated Egress-Permit', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nEgress-Permit: a.b.c\r\negress-permit: a.b.c\r\n`), 'pipeline'],
    ['repeated Idempotency-Key', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nIdempotency-Key: 1\r\nIdempotency-Key: 2\r\n`), 'pipeline'],
    ['origin-form to the proxy port', req('GET /open/a HTTP/1.1', `Host: ${A}\r\n`), 'pipeline'],
    ['URI host differs from Host', req(`GET http://${A}/open/a HTTP/1.1`, `Host: api.it:${(origin?.port ?? 0)}\r\n`), 'pipeline'],
    ['URI port differs from Host', req(`GET http://${A}/open/a HTTP/1.1`, `Host: open.it:${(origin?.port ?? 0) + 1}\r\n`), 'pipeline'],
    ['encoded slash in the path', req(`GET http://${A}/open/a%2Fb HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['encoded backslash in the path', req(`GET http://${A}/open/a%5cb HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['encoded NUL in the path', req(`GET http://${A}/open/a%00 HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['path climbing above the root', req(`GET http://${A}/open/../../../etc/passwd HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['encoded dot segments climbing above the root', req(`GET http://${A}/open/%2e%2e/%2E%2E/x HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['non-http scheme', req(`GET ftp://${A}/open/a HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['userinfo in the URI', req(`GET http://user:pw@${A}/open/a HTTP/1.1`, `Host: ${A}\r\n`), 'pipeline'],
    ['too many header lines', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\n${Array.from({ length: 205 }, (_, i) => `X-H${i}: v\r\n`).join('')}`), 'pipeline'],
    ['Content-Length with Transfer-Encoding', req(`POST http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n`, '0\r\n\r\n'), 'parser'],
    ['two differing Content-Lengths', req(`POST http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nContent-Length: 1\r\nContent-Length: 2\r\n`, 'ab'), 'parser'],
    ['a Content-Length list that differs', req(`POST http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nContent-Length: 1, 2\r\n`, 'ab'), 'parser'],
    ['a bad chunk size', req(`POST http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nTransfer-Encoding: chunked\r\n`, 'zz\r\nab\r\n0\r\n\r\n'), 'parser'],
    ['obsolete line folding', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nX-A: 1\r\n  folded\r\n`), 'parser'],
    ['a bare LF inside a header value', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nX-A: 1\nHost: api.it\r\n`), 'parser'],
    ['a space before the colon', req(`GET http://${A}/open/a HTTP/1.1`, `Host : ${A}\r\n`), 'parser'],
    ['a header block over 256 KiB', req(`GET http://${A}/open/a HTTP/1.1`, `Host: ${A}\r\nX-Big: ${'a'.repeat(300 * 1024)}\r\n`), 'parser'],
    ['garbage', 'GARBAGE\r\n\r\n', 'parser'],
    ['binary bytes', '\x00\x01\x02\xff\xfe HTTP/1.1\r\n\r\n', 'parser'],
  ];

  for (const [name, , who] of cases()) {
    it(`${name} → 400 REQUEST_INVALID (${who})`, async () => {
      const bytes = cases().find((c) => c[0] === name)![1];
      const before = await parseErrors();
      const a = await rawRequest(ws.listenPort, bytes);
      assert.match(a.raw, /^HTTP\/1\.1 400 /, a.raw.slice(0, 300));
      assert.equal(a.headers['egress-reason'], 'REQUEST_INVALID');
      assert.equal(a.json?.reason, 'REQUEST_INVALID');
      if (who === 'pipeline') {
        assert.equal(a.status, 400);
        const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
        assert.equal(rec?.payload.reason, 'REQUEST_INVALID');
        assert.equal(rec?.payload.decision, 'DENY');
      } else {
        // Refused by Node's parser before the pipeline: still a receipt, a metric, status 400.
        assert.equal(a.status, 400);
        assert.equal(a.json?.receipt, a.headers['egress-receipt']);
        const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
        assert.equal(rec?.payload.reason, 'REQUEST_INVALID');
        assert.equal(rec?.payload.decision, 'DENY');
        assert.equal(await parseErrors(), before + 1);
      }
      assert.deepEqual(origin.hits, []);
    });
  }

  it('a request smuggled behind CL+TE reaches nobody, nor does the carrier', async () => {
    const smuggled = `GET http://${A}/open/smuggled HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
    const a = await rawRequest(ws.listenPort, `POST http://${A}/open/carrier HTTP/1.1\r\nHost: ${A}\r\nContent-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`);
    assert.equal(a.status, 400);
    assert.equal((a.raw.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one answer, then the connection closed');
    assert.deepEqual(origin.hits, []);
  });

  it('malformed bytes leave a log line naming the parser error', async () => {
    await rawRequest(ws.listenPort, 'GET\x7f http://x/ HTTP/1.1\r\n\r\n');
    await new Promise((r) => setTimeout(r, 200));
    assert.match(gate.output(), /malformed request refused by the HTTP parser/);
    assert.match(gate.output(), /"code":"HPE_[A-Z_]+"/);
  });

  it('a 100 KB permit still reaches the permit check (PERMIT_MALFORMED, not a parser 431)', async () => {
    const a = await rawRequest(ws.listenPort, req(`GET http://api.it:${origin.port}/p HTTP/1.1`, `Host: api.it:${origin.port}\r\nEgress-Permit: ${'e'.repeat(100_000)}\r\n`));
    assert.equal(a.status, 403, a.raw.slice(0, 200));
    assert.equal(a.headers['egress-reason'], 'PERMIT_MALFORMED');
  });

  it('header_timeout (1s) cuts a client dripping header bytes, with 408, and the origin sees nothing', async () => {
    const before = await parseErrors();
    const t0 = Date.now();
    const { raw, closedAfter } = await new Promise<{ raw: string; closedAfter: number }>((resolve) => {
      const s = net.connect(ws.listenPort, '127.0.0.1');
      const got: Buffer[] = [];
      const drip = `GET http://${A}/open/drip HTTP/1.1\r\nHost: ${A}\r\n${'X-Slow: 1\r\n'.repeat(200)}`;
      let i = 0;
      const t = setInterval(() => { if (i < drip.length && s.writable) s.write(drip[i++]!); }, 100);
      s.on('data', (d) => got.push(d));
      s.on('error', () => undefined);
      s.on('close', () => { clearInterval(t); resolve({ raw: Buffer.concat(got).toString(), closedAfter: Date.now() - t0 }); });
    });
    assert.ok(closedAfter >= 900 && closedAfter < 4000, `closed after ${closedAfter} ms`);
    const a = parseAnswer(raw);
    assert.equal(a.status, 408, raw);
    assert.equal(a.headers['egress-reason'], 'REQUEST_INVALID');
    // SPEC §7: 408 with the same problem+json and a DENY REQUEST_INVALID receipt.
    assert.equal(a.json?.reason, 'REQUEST_INVALID');
    assert.equal(a.json?.status, 408);
    const rec = receiptById(ws.receiptsDir, a.headers['egress-receipt']);
    assert.equal(rec?.payload.decision, 'DENY');
    assert.equal(rec?.payload.reason, 'REQUEST_INVALID');
    assert.equal(await parseErrors(), before + 1);
    assert.deepEqual(origin.hits, []);
  });

  it('a well-formed request on the same gate is still forwarded (the refusals above are not blanket)', async () => {
    const a = await rawRequest(ws.listenPort, req(`GET http://${A}/open/fine HTTP/1.1`, `Host: ${A}\r\n`));
    assert.equal(a.status, 200, a.raw);
    const old = await rawRequest(ws.listenPort, `GET http://${A}/open/http10 HTTP/1.0\r\n\r\n`);
    assert.equal(old.status, 200, 'HTTP/1.0 needs no Host: the absolute URI names it');
    assert.deepEqual(origin.hits, ['GET /open/fine', 'GET /open/http10']);
    origin.hits.length = 0;
  });

  it('the proxy listens on its one configured address: other addresses of this host are refused at connect', async () => {
    // 127.0.0.2 is always there on Linux (all of 127/8 is loopback) but is not the listen
    // address; a non-loopback interface address is tried too where the machine has one.
    const other = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4');
    for (const address of ['127.0.0.2', ...(other ? [other.address] : [])]) {
      const err = await new Promise<string>((resolve) => {
        const s = net.connect(ws.listenPort, address);
        s.on('connect', () => { s.destroy(); resolve('connected'); });
        s.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
      });
      assert.equal(err, 'ECONNREFUSED', address);
    }
  });
});

describe('network: allow_remote_clients', () => {
  it('start refuses a non-loopback listen address unless allow_remote_clients is true', async () => {
    const ws = await workspace({
      routes: { routes: [] },
      config: (c) => { c.gate.listen = '0.0.0.0:0'; },
    });
    const r = cli(['start', '--config', ws.configPath], { cwd: ws.dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not a loopback address; set allow_remote_clients: true/);
  });
});
