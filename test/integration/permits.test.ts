/**
 * Permits through the gate as a process (SPEC §5): a hostile-permit corpus, each case
 * asserting the exact reason and that the origin saw nothing; positive controls; single use
 * under concurrency; idk retries; spent jtis surviving a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  GATE_ID, ISS, SUBJECT, genKey, permitClaims, readReceipts, receiptById, signPermit, startGate, startOrigin, viaProxy, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from './harness.js';

const b64u = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const sha = (b: string) => crypto.createHash('sha256').update(b).digest('base64url');

describe('permits through the gate', () => {
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let jkuServer: http.Server;
  let jkuHits = 0;
  let jkuPort = 0;
  let H = 0;
  const es = genKey('ES256', 'issuer-it-es');
  const url = (p: string) => `http://api.it:${H}${p}`;

  before(async () => {
    origin = await startOrigin();
    H = origin.port;
    jkuServer = http.createServer((_q, r) => { jkuHits++; r.end('{"keys":[]}'); });
    jkuPort = await new Promise<number>((r) => jkuServer.listen(0, '127.0.0.1', () => r((jkuServer.address() as import('node:net').AddressInfo).port)));
    ws = await workspace({
      routes: { routes: [
        { surface: 'payments', action: 'charge.create', match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: '/v1/charges' }, authorize: 'permit', bind_body: true, bind_query: true },
        { surface: 'catalog', action: 'item.read', match: { scheme: 'http', host: 'api.it', port: H, method: 'GET', path: '/v1/items/{id}' }, authorize: 'permit' },
        { surface: 'orders', action: 'create', match: { scheme: 'http', host: 'api.it', port: H, method: 'POST', path: '/v1/orders' }, authorize: 'permit' },
      ] },
    });
    fs.writeFileSync(path.join(ws.dir, 'keys', 'issuer.jwks.json'), JSON.stringify({ keys: [ws.issuer.publicJwk, es.publicJwk] }));
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); jkuServer?.close(); });

  const chargeBody = '{"amount":100}';
  const charge = (over: Record<string, unknown> = {}) => permitClaims({
    surface: 'payments', action: 'charge.create', htm: 'POST', htu: url('/v1/charges'),
    extra: { req: { htm: 'POST', htu: url('/v1/charges'), bdh: sha(chargeBody), qh: sha('k=1') }, ...over },
  });
  const send = (token: string | undefined, o: { body?: string; query?: string; method?: string; p?: string; host?: string } = {}) => {
    const id = crypto.randomUUID();
    const target = `http://${o.host ?? 'api.it'}:${H}${o.p ?? '/v1/charges'}?${o.query ?? 'k=1'}`;
    return viaProxy(gate ? ws.listenPort : 0, target, {
      method: o.method ?? 'POST', body: o.body ?? chargeBody,
      headers: { 'x-test-id': id, ...(token ? { 'egress-permit': token } : {}) },
    }).then((r) => ({ r, id }));
  };
  const seen = (id: string) => origin.requests.filter((q) => q.headers['x-test-id'] === id).length;

  async function refused(token: string, reason: string, o: Parameters<typeof send>[1] = {}) {
    const { r, id } = await send(token, o);
    assert.equal(r.json?.reason, reason, `${r.status} ${r.text}`);
    assert.equal(r.headers['egress-reason'], reason);
    assert.equal(seen(id), 0, 'the origin must see nothing');
    const rec = receiptById(ws.receiptsDir, r.headers['egress-receipt']);
    assert.equal(rec?.payload.reason, reason);
    assert.ok(!JSON.stringify(rec?.payload).includes(token), 'the receipt never holds the token');
    assert.ok(!r.text.includes(token), 'the problem never echoes the token');
    return r;
  }

  const k = () => ws.issuer;
  const corpus: [string, () => string, string][] = [
    ['alg none', () => `${b64u(JSON.stringify({ alg: 'none', typ: 'permit+jwt', kid: k().kid }))}.${b64u(JSON.stringify(charge()))}.`, 'PERMIT_ALG_REJECTED'],
    ['HS256 signed with the issuer public key', () => {
      const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'permit+jwt', kid: k().kid }));
      const p = b64u(JSON.stringify(charge()));
      const mac = crypto.createHmac('sha256', JSON.stringify(k().publicJwk)).update(`${h}.${p}`).digest();
      return `${h}.${p}.${b64u(mac)}`;
    }, 'PERMIT_ALG_REJECTED'],
    ['signed by a key only in an embedded jwk', () => { const a = genKey('EdDSA', k().kid); return signPermit(a, charge(), { jwk: a.publicJwk }); }, 'PERMIT_SIGNATURE_INVALID'],
    ['jku pointing at a server of the test', () => { const a = genKey('EdDSA', 'jku-key'); return signPermit(a, charge(), { jku: `http://127.0.0.1:${jkuPort}/jwks` }); }, 'PERMIT_SIGNATURE_INVALID'],
    ['unknown kid', () => signPermit(genKey('EdDSA', 'nobody'), charge()), 'PERMIT_SIGNATURE_INVALID'],
    ['missing kid', () => signPermit(k(), charge(), { kid: undefined }), 'PERMIT_MALFORMED'],
    ['wrong typ', () => signPermit(k(), charge(), { typ: 'JWT' }), 'PERMIT_TYPE_INVALID'],
    ['missing typ', () => signPermit(k(), charge(), { typ: undefined }), 'PERMIT_TYPE_INVALID'],
    ['unknown crit', () => signPermit(k(), charge(), { crit: ['x-magic'], 'x-magic': 1 }), 'PERMIT_MALFORMED'],
    ['expired', () => { const now = Math.floor(Date.now() / 1000); return signPermit(k(), charge({ iat: now - 600, exp: now - 300 })); }, 'PERMIT_EXPIRED'],
    ['nbf in the future', () => signPermit(k(), charge({ nbf: Math.floor(Date.now() / 1000) + 60 })), 'PERMIT_NOT_YET_VALID'],
    ['iat in the future', () => { const now = Math.floor(Date.now() / 1000); return signPermit(k(), charge({ iat: now + 60, exp: now + 120 })); }, 'PERMIT_NOT_YET_VALID'],
    ['TTL too long', () => { const now = Math.floor(Date.now() / 1000); return signPermit(k(), charge({ iat: now, exp: now + 3600 })); }, 'PERMIT_TTL_TOO_LONG'],
    ['wrong iss', () => signPermit(k(), charge({ iss: 'https://evil.example' })), 'PERMIT_ISSUER_UNTRUSTED'],
    ['wrong aud', () => signPermit(k(), charge({ aud: 'another-gate' })), 'PERMIT_AUDIENCE_MISMATCH'],
    ['wrong sub', () => signPermit(k(), charge({ sub: 'agent:other' })), 'PERMIT_SUBJECT_MISMATCH'],
    ['wrong surface', () => signPermit(k(), charge({ surface: 'catalog' })), 'PERMIT_SCOPE_MISMATCH'],
    ['wrong action', () => signPermit(k(), charge({ action: 'refund.create' })), 'PERMIT_SCOPE_MISMATCH'],
    ['other method bound', () => signPermit(k(), charge({ req: { htm: 'PUT', htu: url('/v1/charges'), bdh: sha(chargeBody), qh: sha('k=1') } })), 'PERMIT_BINDING_MISMATCH'],
    ['other path bound', () => signPermit(k(), charge({ req: { htm: 'POST', htu: url('/v1/refunds'), bdh: sha(chargeBody), qh: sha('k=1') } })), 'PERMIT_BINDING_MISMATCH'],
    ['other host bound', () => signPermit(k(), charge({ req: { htm: 'POST', htu: `http://open.it:${H}/v1/charges`, bdh: sha(chargeBody), qh: sha('k=1') } })), 'PERMIT_BINDING_MISMATCH'],
    ['other body bound', () => signPermit(k(), charge({ req: { htm: 'POST', htu: url('/v1/charges'), bdh: sha('{"amount":1}'), qh: sha('k=1') } })), 'PERMIT_BINDING_MISMATCH'],
    ['body digest missing', () => signPermit(k(), charge({ req: { htm: 'POST', htu: url('/v1/charges'), qh: sha('k=1') } })), 'PERMIT_BINDING_MISMATCH'],
    ['other query bound', () => signPermit(k(), charge({ req: { htm: 'POST', htu: url('/v1/charges'), bdh: sha(chargeBody), qh: sha('k=2') } })), 'PERMIT_BINDING_MISMATCH'],
    ['missing req', () => signPermit(k(), charge({ req: undefined })), 'PERMIT_MALFORMED'],
    ['a 100 KB token', () => signPermit(k(), charge({ pad: 'x'.repeat(100_000) })), 'PERMIT_MALFORMED'],
    ['garbage', () => 'not.a.permit!', 'PERMIT_MALFORMED'],
  ];
  for (const [name, make, reason] of corpus) {
    it(`refuses: ${name} → ${reason}`, async () => { await refused(make(), reason); });
  }

  it('never fetched the jku URL', () => assert.equal(jkuHits, 0));

  it('a valid EdDSA permit bound to method, URL, body and query is forwarded, and the permit header is stripped', async () => {
    const token = signPermit(k(), charge({ txn: 'run-42' }));
    const { r, id } = await send(token);
    assert.equal(r.status, 200, r.text);
    const got = origin.requests.find((q) => q.headers['x-test-id'] === id);
    assert.equal(got?.headers['egress-permit'], undefined);
    const rec = receiptById(ws.receiptsDir, r.headers['egress-receipt']);
    assert.equal(rec?.payload.reason, 'PERMIT_VALID');
    assert.equal(rec?.payload.txn, 'run-42');
    assert.equal(rec?.payload.permit.iss, ISS);
    assert.equal(rec?.payload.permit.kid, k().kid);
    assert.equal(rec?.payload.permit.sha256, sha(token));
    assert.equal(rec?.payload.request.body_sha256, sha(chargeBody));
  });

  it('positive controls: ES256, aud as an array, exp - iat exactly max_ttl', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const token of [
      signPermit(es, charge()),
      signPermit(k(), charge({ aud: ['x', GATE_ID] })),
      signPermit(k(), charge({ iat: now, exp: now + 600 })),
    ]) {
      const { r } = await send(token);
      assert.equal(r.status, 200, r.text);
    }
  });

  it('a body over max_bound_body (default 32 MiB) is 413 BODY_TOO_LARGE', async () => {
    const token = signPermit(k(), charge());
    await refused(token, 'BODY_TOO_LARGE', { body: 'x'.repeat(32 * 1024 * 1024 + 1) });
  });

  it('a refused upload still being sent reads its 413, then FIN: the gate lingers and drains, it does not reset', async () => {
    // The client declares 40 MiB, sends 1 MiB, waits for the answer, then keeps sending 8 MiB.
    // Closing at once would make the kernel reset those bytes (the client's write: EPIPE or
    // ECONNRESET, and most clients then report a network error, not the 413). The client
    // half-closes only when it is done sending, as an uploading client does.
    const token = signPermit(k(), charge());
    const s = net.connect({ port: ws.listenPort, host: '127.0.0.1', allowHalfOpen: true });
    const got: Buffer[] = [];
    let errored: Error | undefined;
    s.on('error', (e) => { errored = e; });
    let finOk = false;
    const ended = new Promise<void>((r) => { s.on('end', () => { finOk = true; r(); }); s.on('close', () => r()); });
    const answered = new Promise<void>((r) => s.on('data', (d: Buffer) => { got.push(d); if (Buffer.concat(got).includes('\r\n\r\n')) r(); }));
    s.write(`POST http://api.it:${H}/v1/charges?k=1 HTTP/1.1\r\nhost: api.it:${H}\r\negress-permit: ${token}\r\ncontent-length: ${40 * 1024 * 1024}\r\n\r\n`);
    s.write(Buffer.alloc(1024 * 1024, 0x78));
    await answered;
    for (let i = 0; i < 8 && !errored; i++) await new Promise<void>((r) => s.write(Buffer.alloc(1024 * 1024, 0x78), () => r()));
    await ended;
    assert.ok(finOk, 'the gate ends its side with a FIN');
    s.destroy();
    assert.equal(errored, undefined, `the client's writes after the answer failed: ${errored?.message}`);
    const head = Buffer.concat(got).toString('latin1');
    assert.match(head, /^HTTP\/1\.1 413 /);
    assert.match(head, /egress-reason: BODY_TOO_LARGE/i);
    assert.match(head, /connection: close/i);
  });

  it('an LLM-sized body (2.2 MB, a prompt with an image) binds and is forwarded under the default', async () => {
    const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image', data: 'A'.repeat(2_200_000) }] }] });
    const token = signPermit(k(), charge({ req: { htm: 'POST', htu: url('/v1/charges'), bdh: sha(big), qh: sha('k=1') } }));
    const { r } = await send(token, { body: big });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.headers['egress-decision'], 'PERMIT');
  });

  it('the same jti twice: the second is PERMIT_REPLAYED', async () => {
    const token = signPermit(k(), charge());
    assert.equal((await send(token)).r.status, 200);
    await refused(token, 'PERMIT_REPLAYED');
  });

  it('20 concurrent requests with one single-use permit: exactly one reaches the origin', async () => {
    const token = signPermit(k(), charge());
    const results = await Promise.all(Array.from({ length: 20 }, () => send(token)));
    assert.equal(results.filter(({ r }) => r.status === 200).length, 1);
    assert.equal(results.reduce((n, { id }) => n + seen(id), 0), 1);
    for (const { r } of results) if (r.status !== 200) assert.equal(r.json.reason, 'PERMIT_REPLAYED');
  });

  it('idk retries: 4 attempts pass in sequence, the 5th is refused, a concurrent one gets 409, and retries name what they retry', async () => {
    const claims = permitClaims({ surface: 'orders', action: 'create', htm: 'POST', htu: url('/v1/orders'), extra: { idk: 'order-77' } });
    const token = signPermit(k(), claims);
    const post = (extra: Record<string, string> = {}) => viaProxy(ws.listenPort, url('/v1/orders'), { method: 'POST', body: '{}', headers: { 'egress-permit': token, 'idempotency-key': 'order-77', ...extra } });
    const first = await post({ 'x-origin-delay': '400' });
    assert.equal(first.status, 200);
    const ids = [first.headers['egress-receipt'] as string];
    const slow = post({ 'x-origin-delay': '600' });
    await new Promise((r) => setTimeout(r, 150));
    const concurrent = await post();
    assert.equal(concurrent.status, 409);
    assert.equal(concurrent.json.reason, 'PERMIT_IN_FLIGHT');
    const second = await slow;
    assert.equal(second.status, 200);
    ids.push(second.headers['egress-receipt'] as string);
    for (let i = 0; i < 2; i++) {
      const r = await post();
      assert.equal(r.status, 200);
      ids.push(r.headers['egress-receipt'] as string);
    }
    const fifth = await post();
    assert.equal(fifth.status, 403);
    assert.equal(fifth.json.reason, 'PERMIT_REPLAYED');
    for (let i = 1; i < ids.length; i++) assert.equal(receiptById(ws.receiptsDir, ids[i])?.payload.retry_of, ids[i - 1]);
    assert.equal(receiptById(ws.receiptsDir, ids[0])?.payload.retry_of, null);
    const noKey = await viaProxy(ws.listenPort, url('/v1/orders'), { method: 'POST', body: '{}', headers: { 'egress-permit': signPermit(k(), { ...claims, jti: `j-${Date.now()}` }) } });
    assert.equal(noKey.status, 200);
  });

  it('a spent jti is still refused after the gate restarts', async () => {
    const token = signPermit(k(), charge());
    assert.equal((await send(token)).r.status, 200);
    await gate.stop();
    gate = await startGate(ws);
    await refused(token, 'PERMIT_REPLAYED');
    const decisions = readReceipts(ws.receiptsDir).filter((l) => l.payload.kind === 'decision' && l.payload.permit?.sha256 === sha(token));
    assert.equal(decisions.length, 2);
    assert.equal(decisions[0]!.payload.permit.spent, true);
  });
});
