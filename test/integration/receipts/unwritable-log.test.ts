/**
 * With the receipt log unwritable (the gate's file-size limit lowered with prlimit --fsize, as
 * in receipt-failure.test.ts), the two paths that splice bytes rather than forward a request
 * must stay shut too: a tunnel route's CONNECT (decided at CONNECT on a Bearer permit) and a
 * WebSocket upgrade. Each is SILENCE RECEIPT_UNAVAILABLE (503, no Egress-Receipt) and the
 * origin gets no connection and no upgrade request; no decision receipt of the refused
 * attempt exists once the log is writable again, and the chain still verifies.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { adminGet, cli, permitClaims, signPermit, startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { connectThrough, readAnswer, startWsOrigin, wsSession, type WsOrigin } from '../https/kit.js';
import { decisionReceipts, shownReceipt, shownReceipts } from './show.js';

/** A TCP origin that counts connections and bytes and echoes nothing: a tunnel's far end. */
async function startTcpOrigin() {
  const seen = { connections: 0, bytes: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    seen.connections++;
    sockets.add(s);
    s.on('data', (d) => { seen.bytes += d.length; s.write(`got ${d.length}\n`); });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
  return { port, seen, close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

describe('receipts: an unwritable log blocks tunnels and WebSocket upgrades', () => {
  before(() => {
    assert.equal(spawnSync('prlimit', ['--version']).status, 0, 'this test needs prlimit (Debian package util-linux)');
  });
  let tcp: Awaited<ReturnType<typeof startTcpOrigin>>;
  let wsOrigin: WsOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let T: number;
  let W: number;

  before(async () => {
    tcp = await startTcpOrigin();
    wsOrigin = await startWsOrigin();
    T = tcp.port; W = wsOrigin.port;
    ws = await workspace({
      routes: {
        routes: [
          { surface: 'vault', action: 'tunnel', match: { scheme: 'https', host: 'tun.it', port: T }, authorize: 'permit', tunnel: true },
          { surface: 'chat', action: 'stream', match: { scheme: 'http', host: 'ws.it', port: W, method: 'GET', path: '/ws/**' }, authorize: 'none' },
        ],
      },
      config: (c) => { Object.assign(c.network.hosts, { 'tun.it': '127.0.0.1', 'ws.it': '127.0.0.1' }); },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await Promise.all([tcp?.close(), wsOrigin?.close()]); });
  afterEach(() => { if (gate?.proc.exitCode === null) execFileSync('prlimit', ['--pid', String(gate.proc.pid), '--fsize=unlimited:']); });

  /** Lowers the gate's file-size limit so that no whole receipt line fits any more. */
  function makeLogUnwritable(): void {
    const sizes = fs.readdirSync(ws.receiptsDir).filter((f) => !f.startsWith('.')).map((f) => fs.statSync(path.join(ws.receiptsDir, f)).size);
    execFileSync('prlimit', ['--pid', String(gate.proc.pid), `--fsize=${Math.max(...sizes) + 10}:`]);
  }
  function makeLogWritable(): void {
    execFileSync('prlimit', ['--pid', String(gate.proc.pid), '--fsize=unlimited:']);
  }
  async function waitFor<T>(what: string, f: () => T | undefined): Promise<T> {
    for (let i = 0; i < 100; i++) {
      const v = f();
      if (v !== undefined) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }
  function assertVerifies(): void {
    const jwksPath = path.join(ws.dir, 'jwks.json');
    const v = cli(['receipts', 'verify', '--key', jwksPath, ws.receiptsDir]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  }
  const problemOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));

  it('a tunnel route with a valid permit: 503 SILENCE RECEIPT_UNAVAILABLE, the origin gets no connection', async () => {
    fs.writeFileSync(path.join(ws.dir, 'jwks.json'), (await adminGet(ws.adminPort, '/jwks.json')).text);
    const authority = `tun.it:${T}`;
    const permitFor = () => {
      const claims = permitClaims({ surface: 'vault', action: 'tunnel', htm: 'CONNECT', htu: authority });
      return { jti: claims.jti, token: signPermit(ws.issuer, claims) };
    };

    // Control: with a writable log the same kind of CONNECT is spliced to the origin.
    const ok = permitFor();
    const c1 = await connectThrough(ws.listenPort, authority, [`Proxy-Authorization: Bearer ${ok.token}`]);
    assert.equal(c1.status, 200, c1.head);
    const id1 = /egress-receipt: (\S+)/i.exec(c1.head)?.[1];
    c1.socket.resume();
    c1.socket.write('ping');
    await waitFor('the spliced bytes at the origin', () => (tcp.seen.bytes >= 4 ? true : undefined));
    c1.socket.destroy();
    assert.equal(shownReceipt(ws.receiptsDir, id1)?.reason, 'PERMIT_VALID');
    await waitFor('the control tunnel\'s outcome receipt', () => shownReceipts(ws.receiptsDir).find((r) => r.kind === 'outcome' && r.of === id1));
    const connectionsBefore = tcp.seen.connections;
    const bytesBefore = tcp.seen.bytes;
    const decisionsBefore = decisionReceipts(ws.receiptsDir).length;

    makeLogUnwritable();
    const refused = permitFor();
    const c2 = await connectThrough(ws.listenPort, authority, [`Proxy-Authorization: Bearer ${refused.token}`]);
    c2.socket.write('must-not-arrive');
    const rest = await readAnswer(c2.socket);
    assert.equal(c2.status, 503, c2.head);
    assert.match(c2.head, /egress-decision: SILENCE/i);
    assert.match(c2.head, /egress-reason: RECEIPT_UNAVAILABLE/i);
    assert.doesNotMatch(c2.head, /egress-receipt:/i, 'no receipt id without a receipt');
    const problem = JSON.parse(Buffer.concat([c2.rest, Buffer.from(rest.raw)]).toString());
    assert.equal(problem.decision, 'SILENCE');
    assert.equal(problem.reason, 'RECEIPT_UNAVAILABLE');
    assert.equal(problem.type, 'urn:egress-gate:reason:RECEIPT_UNAVAILABLE');
    assert.equal(problem.receipt, undefined);
    assert.equal(tcp.seen.connections, connectionsBefore, 'the origin got a connection without a durable receipt');
    assert.equal(tcp.seen.bytes, bytesBefore, 'bytes reached the origin without a durable receipt');

    makeLogWritable();
    const all = shownReceipts(ws.receiptsDir);
    assert.equal(all.filter((r) => r.kind === 'decision').length, decisionsBefore, 'no decision receipt was written for the refused CONNECT');
    assert.equal(all.filter((r) => r.permit?.jti === refused.jti).length, 0, 'no receipt names the refused permit');
    assertVerifies();
  });

  it('a WebSocket upgrade to a none route: 503 SILENCE RECEIPT_UNAVAILABLE, the origin sees no upgrade request', async () => {
    fs.writeFileSync(path.join(ws.dir, 'jwks.json'), (await adminGet(ws.adminPort, '/jwks.json')).text);
    const upgrade = (p: string) => {
      const s = net.connect(ws.listenPort, '127.0.0.1');
      return wsSession(s, `http://ws.it:${W}${p}`, `ws.it:${W}`, ['hello']);
    };

    // Control: with a writable log the upgrade is spliced and echoes.
    const okPath = `/ws/ok-${Date.now()}`;
    const ok = await upgrade(okPath);
    assert.equal(ok.status, 101, ok.raw);
    assert.deepEqual(ok.echoes, ['echo:hello']);
    const okReceipt = shownReceipt(ws.receiptsDir, ok.headers['egress-receipt']);
    assert.equal(okReceipt?.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(okReceipt?.request?.url, `http://ws.it:${W}${okPath}`);
    await waitFor('the control upgrade\'s outcome receipt', () => shownReceipts(ws.receiptsDir).find((r) => r.kind === 'outcome' && r.of === okReceipt?.id));
    const decisionsBefore = decisionReceipts(ws.receiptsDir).length;

    makeLogUnwritable();
    const blockedPath = `/ws/blocked-${Date.now()}`;
    const blocked = await upgrade(blockedPath);
    assert.equal(blocked.status, 503, blocked.raw);
    assert.equal(blocked.headers['egress-decision'], 'SILENCE');
    assert.equal(blocked.headers['egress-reason'], 'RECEIPT_UNAVAILABLE');
    assert.equal(blocked.headers['egress-receipt'], undefined, 'no receipt id without a receipt');
    const problem = problemOf(blocked.raw);
    assert.equal(problem.decision, 'SILENCE');
    assert.equal(problem.reason, 'RECEIPT_UNAVAILABLE');
    assert.equal(problem.receipt, undefined);
    assert.deepEqual(blocked.echoes, []);
    assert.equal(wsOrigin.upgrades.filter((u) => u.url === blockedPath).length, 0, 'the origin saw the upgrade request without a durable receipt');
    assert.equal(wsOrigin.plain.length, 0);

    makeLogWritable();
    const decisions = decisionReceipts(ws.receiptsDir);
    assert.equal(decisions.length, decisionsBefore, 'no decision receipt was written for the refused upgrade');
    assert.equal(decisions.filter((r) => r.request?.url === `http://ws.it:${W}${blockedPath}`).length, 0);
    assertVerifies();
  });
});
