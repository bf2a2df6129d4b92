/**
 * The HTTP/2 limits of intercepted connections (H2_LIMITS), each met by a raw-frame client
 * through the gate process: a stream past SETTINGS_MAX_CONCURRENT_STREAMS is never decided and
 * the connection closes; a header list past SETTINGS_MAX_HEADER_LIST_SIZE (an HPACK bomb) and
 * too many header fields reset their stream only; more fields than an HTTP/1.1 head may carry
 * is REQUEST_INVALID with its receipt; a field nghttp2 cannot decode closes the connection.
 * Nothing past a limit is decided or forwarded, and the gate serves the next connection.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  adminGet, readReceipts, startGate, startOrigin, tmpDir, workspace, type GateProcess, type GateWorkspace, type Origin,
} from '../harness.js';
import { makeCa, makeLeaf } from './kit.js';
import { bombBlock, h2Request, h2Through, headersFrame, literalBlock, rawH2, tlsThrough } from './h2-kit.js';

const until = async (done: () => boolean, ms = 3000) => { for (let t = 0; t < ms && !done(); t += 25) await new Promise((r) => setTimeout(r, 25)); };

describe('https: HTTP/2 limits', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let origin: Origin;
  let S: number;
  let gateCaPem: string;
  const auth = () => `api.it:${S}`;
  const base = (p: string, method = 'GET'): [string, string][] => [[':method', method], [':scheme', 'https'], [':path', p], [':authority', auth()]];
  const decisionsFor = (p: string) => readReceipts(ws.receiptsDir).filter((r) => r.payload.kind === 'decision' && String(r.payload.request?.url ?? '').endsWith(p));
  const closes = async (cause: string) => Number(new RegExp(`egress_gate_h2_connections_closed_total\\{cause="${cause}"\\} (\\d+)`).exec((await adminGet(ws.adminPort, '/metrics')).text)?.[1] ?? 0);
  const raw = async () => {
    const t = await tlsThrough(ws.listenPort, auth(), gateCaPem, ['h2']);
    return { t, h2: await rawH2(t) };
  };

  before(async () => {
    const dir = tmpDir('eg-h2-limits-');
    const pki = path.join(dir, 'origin-pki');
    const originCa = await makeCa(pki, 'origin-ca');
    const leaf = await makeLeaf(pki, originCa, 'secure', ['api.it']);
    // The origin takes larger heads than Node's 16 KiB default, so a list the gate passes arrives.
    origin = await startOrigin({ key: leaf.keyPem, cert: leaf.certPem, maxHeaderSize: 512 * 1024 });
    S = origin.port;
    const m = (p: string, method = 'GET') => ({ scheme: 'https', host: 'api.it', port: S, method, path: p });
    ws = await workspace({
      dir,
      routes: {
        routes: [
          { surface: 'docs', action: 'read', match: m('/docs/**'), authorize: 'none' },
          { surface: 'hold', action: 'send', match: m('/hold/**', 'POST'), authorize: 'none' },
        ],
      },
      config: (c) => { c.tls.upstream_ca = [originCa.certPath]; },
    });
    gateCaPem = fs.readFileSync(ws.caCert, 'utf8');
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('the 101st concurrent stream is never decided: the connection closes as a protocol error, the gate serves on', async () => {
    const before = await closes('protocol_error');
    const { t, h2 } = await raw();
    // 100 streams whose bodies never end stay open; the 101st (id 201) breaks the limit.
    const open: Buffer[] = [];
    for (let i = 0; i < 100; i++) open.push(headersFrame(1 + 2 * i, base(`/hold/${i}`, 'POST'), true));
    h2.write(Buffer.concat(open));
    await until(() => decisionsFor('/hold/99').length > 0);
    assert.equal(decisionsFor('/hold/99').length, 1, 'the 100th stream was decided');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!t.destroyed, 'a hundred open streams are within the limit');
    h2.write(headersFrame(201, base('/hold/100', 'POST'), true));
    const closed = await Promise.race([h2.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 3000))]);
    t.destroy();
    // nghttp2 finds the connection error and Node ends the session at once; its GOAWAY, written
    // just before the TLS socket is destroyed, may not reach the client, so the close is asserted.
    assert.ok(closed, 'the connection was closed');
    if (h2.goaway() !== undefined) assert.ok(h2.goawayLastStream()! < 201);
    await until(() => /HTTP\/2 connection closed: protocol error/.test(gate.output()));
    assert.match(gate.output(), /HTTP\/2 connection closed: protocol error/);
    assert.equal(await closes('protocol_error'), before + 1);
    assert.equal(decisionsFor('/hold/100').length, 0, 'the stream past the limit was decided');
    // The open streams ended with the connection: not forwarded whole, outcome `client aborted`.
    const o = readReceipts(ws.receiptsDir).find((r) => r.payload.kind === 'outcome' && r.payload.of === decisionsFor('/hold/0')[0]!.payload.id);
    assert.equal(o?.payload.error, 'client aborted');
    assert.equal(origin.byPath('/hold/0').length, 0);
    const { session } = await h2Through(ws.listenPort, auth(), gateCaPem);
    try {
      assert.equal((await h2Request(session, { ':path': '/docs/after-limit' })).status, 200);
    } finally {
      session.close();
    }
  });

  it('an HPACK bomb past the 128 KiB header list size resets its stream only: no decision, the next stream is answered', async () => {
    const { t, h2 } = await raw();
    // ~40 bytes on the wire, 82 × (2 KiB + 32) decoded (RFC 9113 §6.5.2 counts each field + 32).
    const bomb = Buffer.concat([literalBlock(base('/docs/bomb')), bombBlock(['x-bomb', 'b'.repeat(2048)], 82)]);
    assert.ok(bomb.length < 2400, `bomb of ${bomb.length} bytes`);
    h2.write(headersFrame(1, bomb));
    h2.write(headersFrame(3, base('/docs/after-bomb')));
    await until(() => h2.resets.has(1) && h2.responses.has(3));
    t.destroy();
    assert.equal(h2.resets.get(1), 0xb, 'RST_STREAM ENHANCE_YOUR_CALM');
    assert.ok(h2.responses.has(3), 'the next stream on the connection was answered');
    assert.equal(h2.goaway(), undefined);
    assert.equal(decisionsFor('/docs/bomb').length, 0);
    assert.equal(origin.byPath('/docs/bomb').length, 0);
    assert.equal(decisionsFor('/docs/after-bomb')[0]?.payload.decision, 'PERMIT');
  });

  it('a header list just under the limit arrives whole and is decided (three 40 KiB fields over CONTINUATION frames)', async () => {
    const { t, h2 } = await raw();
    const big: [string, string][] = ['a', 'b', 'c'].map((k) => [`x-big-${k}`, k.repeat(40 * 1024)]);
    h2.write(headersFrame(1, [...base('/docs/big'), ...big]));
    await until(() => h2.responses.has(1) || h2.resets.has(1));
    t.destroy();
    assert.ok(h2.responses.has(1), `answered (reset: ${h2.resets.get(1)})`);
    assert.equal(decisionsFor('/docs/big')[0]?.payload.decision, 'PERMIT');
    await until(() => origin.byPath('/docs/big').length > 0);
    assert.ok(origin.byPath('/docs/big')[0]?.headers['x-big-c'] === 'c'.repeat(40 * 1024), 'the origin got the 40 KiB fields whole');
  });

  it('more header fields than an HTTP/1.1 head may carry (200) is REQUEST_INVALID with its receipt; more than 400 resets the stream', async () => {
    const { session } = await h2Through(ws.listenPort, auth(), gateCaPem);
    try {
      const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-f${i}`, 'v']));
      const many = await h2Request(session, { ':path': '/docs/many', ...fields(250) });
      assert.equal(many.status, 400);
      assert.equal(many.headers['egress-reason'], 'REQUEST_INVALID');
      const d = readReceipts(ws.receiptsDir).find((r) => r.payload.id === many.headers['egress-receipt']);
      assert.equal(d?.payload.decision, 'DENY');
      assert.equal(d?.payload.reason, 'REQUEST_INVALID');
      const decided = readReceipts(ws.receiptsDir).length;
      await assert.rejects(h2Request(session, { ':path': '/docs/too-many', ...fields(450) }), /NGHTTP2_ENHANCE_YOUR_CALM/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(readReceipts(ws.receiptsDir).length, decided, 'the reset stream was decided');
      assert.equal(origin.byPath('/docs/many').length + origin.byPath('/docs/too-many').length, 0);
      assert.equal((await h2Request(session, { ':path': '/docs/after-many' })).status, 200, 'the connection goes on');
    } finally {
      session.close();
    }
  });

  it('one field over 64 KiB (past what nghttp2 decodes) closes the connection with COMPRESSION_ERROR, undecided', async () => {
    const { t, h2 } = await raw();
    h2.write(headersFrame(1, [...base('/docs/huge-field'), ['x-huge', 'h'.repeat(70 * 1024)]]));
    await until(() => h2.goaway() !== undefined);
    t.destroy();
    assert.equal(h2.goaway(), 0x9);
    assert.equal(decisionsFor('/docs/huge-field').length, 0);
    assert.equal(gate.proc.exitCode, null);
  });
});
