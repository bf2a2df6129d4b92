/**
 * Regression: a client that goes away mid-response (or before the answer starts) must end
 * the attempt — upstream aborted, outcome receipt written with the error — instead of
 * leaving the copy waiting for a 'drain' that never comes (a leak, and a stop that waited
 * out its whole drain period).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { adminGet, readReceipts, startGate, workspace, type GateProcess, type GateWorkspace } from './harness.js';

describe('client abort', () => {
  let origin: http.Server;
  let port = 0;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let decider: http.Server;
  const aborted: string[] = [];

  before(async () => {
    origin = http.createServer((req, res) => {
      req.on('close', () => { if (!res.writableFinished) aborted.push(req.url ?? ''); });
      if (req.url?.startsWith('/big')) {
        // Far more than socket buffers hold: the gate's writes back up once the client stops reading.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let n = 0;
        const pump = () => {
          while (n < 2000) { n++; if (!res.write(chunk)) { res.once('drain', pump); return; } }
          res.end();
        };
        pump();
      } else {
        setTimeout(() => { if (!res.destroyed) res.end('late'); }, 1500);
      }
    });
    port = await new Promise<number>((r) => origin.listen(0, '127.0.0.1', () => r((origin.address() as net.AddressInfo).port)));
    // A decider that takes its time, so a client can leave while the gate is still deciding.
    decider = http.createServer((_q, r) => setTimeout(() => r.end('{"result":{"decision":"PERMIT"}}'), 400));
    const dport = await new Promise<number>((r) => decider.listen(0, '127.0.0.1', () => r((decider.address() as net.AddressInfo).port)));
    ws = await workspace({
      routes: { routes: [
        { surface: 's', action: 'a', match: { scheme: 'http', host: 'open.it', port, method: 'GET', path: '/**' }, authorize: 'none' },
        { surface: 's', action: 'online', match: { scheme: 'http', host: 'api.it', port, method: 'GET', path: '/**' }, authorize: 'online' },
      ] },
      config: (c) => { c.decider = { url: `http://127.0.0.1:${dport}/v1/data/egress/decision`, timeout: '2s' }; },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); origin?.close(); origin?.closeAllConnections(); decider?.close(); });

  const outcomeFor = async (path: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const all = readReceipts(ws.receiptsDir);
      const d = all.find((r) => r.payload.kind === 'decision' && r.payload.request?.url?.endsWith(path));
      const o = d && all.find((r) => r.payload.kind === 'outcome' && r.payload.of === d.payload.id);
      if (o) return o.payload;
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  };

  /** Sends a GET through the proxy, reads `readBytes` of the answer (0: none), then destroys the socket. */
  const abortAfter = (path: string, readBytes: number, afterMs: number, host = 'open.it') => new Promise<void>((resolve) => {
    const s = net.connect(ws.listenPort, '127.0.0.1', () => s.write(`GET http://${host}:${port}${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    let got = 0;
    s.on('data', (d) => {
      got += d.length;
      if (readBytes > 0 && got >= readBytes) { s.pause(); setTimeout(() => { s.destroy(); resolve(); }, afterMs); }
    });
    if (readBytes === 0) setTimeout(() => { s.destroy(); resolve(); }, afterMs);
    s.on('error', () => resolve());
  });

  it('a client that stops reading and leaves mid-body ends the attempt with an outcome receipt naming the error', async () => {
    await abortAfter('/big/1', 100_000, 300);
    const o = await outcomeFor('/big/1');
    assert.ok(o, 'outcome receipt written');
    assert.equal(o.status, 200);
    assert.equal(o.error, 'client aborted', 'the outcome reads as a client abort, not "20: This operation was aborted"');
    assert.ok(o.bytes_down < 2000 * 64 * 1024);
  });

  it('a client that leaves before the answer starts aborts the upstream request', async () => {
    await abortAfter('/slow/1', 0, 300);
    const o = await outcomeFor('/slow/1');
    assert.ok(o, 'outcome receipt written');
    assert.equal(o.error, 'client aborted');
    // The origin learns of the abort over its own socket, which may be after the outcome receipt.
    for (let i = 0; i < 40 && !aborted.includes('/slow/1'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(aborted.includes('/slow/1'), 'the origin saw its request aborted');
  });

  it('a client that leaves while the gate is still deciding: the permitted request is not sent, or is aborted, and the attempt ends', async () => {
    await abortAfter('/big/decided-late', 0, 150, 'api.it');
    const o = await outcomeFor('/big/decided-late');
    assert.ok(o, 'outcome receipt written');
    assert.equal(o.error, 'client aborted');
  });

  it('a client that goes away (reset, or closed mid-request) is no parse error: no warn line, not counted, no receipt', async () => {
    const parseErrors = async () => Number(/^egress_gate_parse_errors_total (\S+)$/m.exec((await adminGet(ws.adminPort, '/metrics')).text)?.[1] ?? NaN);
    const before = await parseErrors();
    const receiptsBefore = readReceipts(ws.receiptsDir).length;
    const logBefore = gate.output().length;
    const leave = (how: 'reset' | 'end') => new Promise<void>((resolve) => {
      const s = net.connect(ws.listenPort, '127.0.0.1', () => {
        s.write(`GET http://open.it:${port}/gone HTTP/1.1\r\nHost: open.it:${port}\r\nX-Partial: `);
        setTimeout(() => { if (how === 'reset') s.resetAndDestroy(); else s.end(); }, 100);
      });
      s.on('close', () => resolve());
      s.on('error', () => undefined);
    });
    await leave('reset');
    await leave('end');
    await leave('reset');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await parseErrors(), before, 'egress_gate_parse_errors_total unchanged');
    const log = gate.output().slice(logBefore);
    assert.doesNotMatch(log, /malformed request refused by the HTTP parser/);
    assert.equal(readReceipts(ws.receiptsDir).length, receiptsBefore, 'nothing was decided, nothing receipted');
    // A malformed request is still one: counted, warned, receipted.
    const s = net.connect(ws.listenPort, '127.0.0.1');
    await new Promise<void>((resolve) => { s.on('connect', () => s.write('GET / HTTP/1.1\r\nBad Header\r\n\r\n')); s.on('data', () => { s.destroy(); resolve(); }); s.on('error', () => resolve()); });
    assert.equal(await parseErrors(), before + 1);
    for (let i = 0; i < 20 && !/malformed request refused/.test(gate.output().slice(logBefore)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(gate.output().slice(logBefore), /"level":40.*malformed request refused by the HTTP parser/);
  });

  it('stop does not wait out the drain period after aborted clients', async () => {
    const t0 = Date.now();
    assert.equal(await gate.stop(), 0);
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    gate = await startGate(ws);
  });
});
