/**
 * The core gate as a process, plain HTTP: allowed, unmatched, explicit deny, invalid
 * requests, exceptions — each checked by status, reason, headers, receipt and what the
 * origin did or did not receive. Clients: curl, undici's ProxyAgent, raw sockets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fetch, ProxyAgent } from 'undici';
import {
  cli, readReceipts, receiptById, startGate, startOrigin, viaProxy, rawExchange, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from './harness.js';

const run = promisify(execFile);
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('core: plain HTTP through the gate', () => {
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let H: number;
  const proxy = () => `http://127.0.0.1:${ws.listenPort}`;

  before(async () => {
    origin = await startOrigin();
    H = origin.port;
    ws = await workspace({
      routes: {
        routes: [
          { surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: H, method: '*', path: '/open/**' }, authorize: 'none' },
          { surface: 'admin', action: 'delete', match: { scheme: 'http', host: 'api.it', port: H, method: 'DELETE', path: '/v1/admin/**' }, authorize: 'deny' },
          { surface: 'payments', action: 'charge.create', match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: '/v1/charges' }, authorize: 'permit' },
          { surface: 'refunds', action: 'create', match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: '/v1/refunds' }, authorize: 'deny' },
        ],
        exceptions: [
          { id: 'EXC-1', surface: 'refunds', action: 'create', reason: 'incident', approved_by: ['a@sec'], expires: '2099-01-01T00:00:00Z' },
        ],
      },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('forwards an authorize:none GET with curl, strips hop-by-hop and permit headers, and receipts it', async () => {
    const p = `/open/${Date.now()}`;
    const { stdout: out } = await run('curl', ['-sS', '-i', '-x', proxy(), '-H', 'Egress-Permit: not-a-permit', '-H', 'X-Kept: yes', '-H', 'Connection: keep-alive, X-Hop', '-H', 'X-Hop: gone', `http://open.it:${H}${p}?secret=hunter2`]);
    assert.match(out, /^HTTP\/1\.1 200/);
    assert.match(out, /egress-decision: PERMIT/i);
    const id = /egress-receipt: (\S+)/i.exec(out)?.[1];
    assert.match(id ?? '', UUIDV7);
    const seen = origin.byPath(p);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['x-kept'], 'yes');
    assert.equal(seen[0]!.headers['egress-permit'], undefined);
    assert.equal(seen[0]!.headers['x-hop'], undefined);
    assert.equal(seen[0]!.url, `${p}?secret=hunter2`);
    const rec = receiptById(ws.receiptsDir, id);
    assert.ok(rec, 'decision receipt on disk before the answer');
    assert.equal(rec.payload.kind, 'decision');
    assert.equal(rec.payload.decision, 'PERMIT');
    assert.equal(rec.payload.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(rec.payload.request.url, `http://open.it:${H}${p}`);
    assert.match(rec.payload.request.query_sha256, /^[A-Za-z0-9_-]{43}$/);
  });

  it('forwards with undici ProxyAgent, streaming a POST body both ways', async () => {
    const p = `/open/upload-${Date.now()}`;
    const body = 'x'.repeat(200_000);
    const res = await fetch(`http://open.it:${H}${p}`, { method: 'POST', body, dispatcher: new ProxyAgent(proxy()) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('egress-decision'), 'PERMIT');
    await res.text();
    assert.equal(origin.byPath(p)[0]?.body.length, body.length);
    const rec = receiptById(ws.receiptsDir, res.headers.get('egress-receipt') ?? '');
    assert.equal(rec?.payload.reason, 'NO_PERMIT_REQUIRED');
  });

  it('denies an unmatched request with ROUTE_UNMATCHED problem+json and a receipt', async () => {
    const r = await viaProxy(ws.listenPort, `http://nowhere.it:${H}/x`);
    assert.equal(r.status, 403);
    assert.equal(r.headers['content-type'], 'application/problem+json');
    assert.equal(r.headers['egress-decision'], 'DENY');
    assert.equal(r.headers['egress-reason'], 'ROUTE_UNMATCHED');
    assert.equal(r.json.type, 'urn:egress-gate:reason:ROUTE_UNMATCHED');
    assert.equal(r.json.receipt, r.headers['egress-receipt']);
    assert.equal(receiptById(ws.receiptsDir, r.json.receipt)?.payload.reason, 'ROUTE_UNMATCHED');
  });

  it('denies an explicit deny route and the origin sees nothing', async () => {
    const p = `/v1/admin/users/${Date.now()}`;
    const r = await viaProxy(ws.listenPort, `http://api.it:${H}${p}`, { method: 'DELETE' });
    assert.equal(r.status, 403);
    assert.equal(r.json.reason, 'ROUTE_DENY');
    assert.equal(r.json.surface, 'admin');
    assert.equal(r.json.action, 'delete');
    assert.equal(origin.byPath(p).length, 0);
    const rec = receiptById(ws.receiptsDir, r.json.receipt);
    assert.equal(rec?.payload.decision, 'DENY');
    assert.equal(rec?.payload.enforced, true);
  });

  it('answers PERMIT_MISSING for a permit route without a permit', async () => {
    const r = await viaProxy(ws.listenPort, `http://api.it:${H}/v1/charges`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 403);
    assert.equal(r.json.reason, 'PERMIT_MISSING');
    assert.equal(origin.byPath('/v1/charges').length, 0);
  });

  it('an unexpired exception permits a deny route and names itself in the receipt', async () => {
    const r = await viaProxy(ws.listenPort, `http://api.it:${H}/v1/refunds`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 200);
    const rec = receiptById(ws.receiptsDir, r.headers['egress-receipt']);
    assert.equal(rec?.payload.reason, 'EXCEPTION');
    assert.equal(rec?.payload.exception, 'EXC-1');
  });

  const invalid: [string, string][] = [
    ['origin-form request to the proxy port', 'GET /open/a HTTP/1.1\r\nHost: open.it\r\n\r\n'],
    ['absolute URI host differs from Host', `GET http://open.it:PORT/open/a HTTP/1.1\r\nHost: api.it:PORT\r\n\r\n`],
    ['repeated Host', `GET http://open.it:PORT/open/a HTTP/1.1\r\nHost: open.it:PORT\r\nHost: open.it:PORT\r\n\r\n`],
    ['repeated Egress-Permit', `GET http://open.it:PORT/open/a HTTP/1.1\r\nHost: open.it:PORT\r\nEgress-Permit: a\r\nEgress-Permit: b\r\n\r\n`],
    ['encoded slash', `GET http://open.it:PORT/open/a%2Fb HTTP/1.1\r\nHost: open.it:PORT\r\n\r\n`],
    ['climbing above root', `GET http://open.it:PORT/open/../../etc HTTP/1.1\r\nHost: open.it:PORT\r\n\r\n`],
  ];
  for (const [name, raw] of invalid) {
    it(`REQUEST_INVALID: ${name}`, async () => {
      const before = origin.requests.length;
      const text = await rawExchange(ws.listenPort, raw.replaceAll('PORT', String(H)));
      assert.match(text, /^HTTP\/1\.1 400/);
      assert.match(text, /egress-reason: REQUEST_INVALID/i);
      const id = /egress-receipt: (\S+)/i.exec(text)?.[1];
      assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'REQUEST_INVALID');
      assert.equal(origin.requests.length, before, 'origin saw nothing');
    });
  }

  it('CL together with TE is refused by the parser and never forwarded', async () => {
    const before = origin.requests.length;
    const text = await rawExchange(ws.listenPort, `POST http://open.it:${H}/open/smuggle HTTP/1.1\r\nHost: open.it:${H}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /open/inner HTTP/1.1\r\nHost: open.it\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 400/);
    assert.match(text, /REQUEST_INVALID/);
    const id = /egress-receipt: (\S+)/i.exec(text)?.[1];
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'REQUEST_INVALID', 'a parser refusal is receipted too');
    assert.equal(origin.requests.length, before);
  });

  it('an Expect other than 100-continue is decided like any request (not Node\'s bare 417) and not sent upstream', async () => {
    const ok = await rawExchange(ws.listenPort, `GET http://open.it:${H}/open/expect HTTP/1.1\r\nHost: open.it:${H}\r\nExpect: x-custom\r\nConnection: close\r\n\r\n`);
    assert.match(ok, /^HTTP\/1\.1 200/);
    assert.equal(origin.byPath('/open/expect').length, 1);
    assert.equal(origin.byPath('/open/expect')[0]?.headers.expect, undefined, 'the gate meets the expectation itself');
    const denied = await rawExchange(ws.listenPort, `DELETE http://api.it:${H}/v1/admin/x HTTP/1.1\r\nHost: api.it:${H}\r\nExpect: x-custom\r\nConnection: close\r\n\r\n`);
    assert.match(denied, /^HTTP\/1\.1 403/);
    const id = /egress-receipt: (\S+)/i.exec(denied)?.[1];
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'ROUTE_DENY');
  });

  it('dot segments and encoded unreserved characters are normalized before matching and upstream', async () => {
    const r = await viaProxy(ws.listenPort, `http://open.it:${H}/open/x/../%61b%2Dc`);
    assert.equal(r.status, 200);
    assert.equal(origin.byPath('/open/ab-c').length, 1);
  });

  it('receipts verify passes on the live log and receipts show decodes it', async () => {
    const jwks = `${ws.dir}/jwks.json`;
    await run('curl', ['-sS', '-o', jwks, `http://127.0.0.1:${ws.adminPort}/jwks.json`]);
    const v = cli(['receipts', 'verify', '--key', jwks, ws.receiptsDir]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const s = cli(['receipts', 'show', ws.receiptsDir]);
    assert.equal(s.code, 0);
    const lines = s.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.kind === 'lifecycle' && l.event === 'start'));
    assert.ok(lines.some((l) => l.kind === 'outcome' && l.status === 200));
  });

  it('the canonical decision log line names the receipt', async () => {
    const r = await viaProxy(ws.listenPort, `http://nowhere.it:${H}/log-me`);
    await new Promise((res) => setTimeout(res, 100));
    const line = gate.output().split('\n').filter((l) => l.includes(r.headers['egress-receipt'] as string)).map((l) => JSON.parse(l))[0];
    assert.equal(line.msg, 'egress.decision');
    assert.equal(line.reason, 'ROUTE_UNMATCHED');
    assert.equal(line.level, 40, 'denials are logged at warn');
  });

  it('an egress.outcome log line (info) says what the agent got: status and byte counts, joined to the decision by receipt', async () => {
    const r = await viaProxy(ws.listenPort, `http://open.it:${H}/open/outcome-log`);
    assert.equal(r.status, 200);
    const id = r.headers['egress-receipt'] as string;
    let line: any;
    for (let i = 0; i < 40 && !line; i++) {
      line = gate.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'egress.outcome' && l.of === id);
      if (!line) await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(line, 'egress.outcome line');
    assert.equal(line.level, 30, 'info');
    assert.equal(line.status, 200);
    assert.equal(line.bytes_down, Buffer.byteLength(r.text));
    assert.equal(line.bytes_up, 0);
    assert.equal(line.method, 'GET');
    assert.equal(line.url, `http://open.it:${H}/open/outcome-log`);
    assert.equal(line.error, null);
    assert.equal(typeof line.ms, 'number');
    // The same numbers as the outcome receipt it names.
    const out = receiptById(ws.receiptsDir, line.receipt);
    assert.equal(out?.payload.kind, 'outcome');
    assert.equal(out?.payload.of, id);
    assert.equal(out?.payload.status, 200);
    assert.equal(out?.payload.bytes_down, line.bytes_down);
    const decision = gate.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.msg === 'egress.decision' && l.receipt === id);
    assert.equal(decision?.surface, line.surface);
  });

  it('a stop writes the stop lifecycle receipt last', async () => {
    assert.equal(await gate.stop(), 0);
    const all = readReceipts(ws.receiptsDir);
    assert.equal(all.at(-1)?.payload.kind, 'lifecycle');
    assert.equal(all.at(-1)?.payload.event, 'stop');
    gate = await startGate(ws);
  });
});
