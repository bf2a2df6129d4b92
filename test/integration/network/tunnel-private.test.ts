/**
 * A tunnel route (decided at CONNECT, then spliced) is held to network.block_private like any
 * request: a tunnel to a private address is 403 DENY DESTINATION_PRIVATE with its decision
 * receipt, and the origin gets no connection — even with a valid permit. The control gate
 * allows the origin's address by allow_cidrs, and the same CONNECT is spliced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { permitClaims, signPermit, startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { connectThrough, readAnswer } from '../https/kit.js';
import { shownReceipt, shownReceipts } from '../receipts/show.js';

describe('network: tunnel routes and block_private', () => {
  const seen = { connections: 0, bytes: 0 };
  const sockets = new Set<net.Socket>();
  let origin: net.Server;
  let T: number;
  let blocked: { ws: GateWorkspace; gate: GateProcess };
  let allowed: { ws: GateWorkspace; gate: GateProcess };

  async function gateWith(allowCidrs: string[]) {
    const ws = await workspace({
      routes: { routes: [{ surface: 'vault', action: 'tunnel', match: { scheme: 'https', host: 'tun.it', port: T }, authorize: 'permit', tunnel: true }] },
      config: (c) => {
        c.network.block_private = true;
        c.network.allow_cidrs = allowCidrs;
        c.network.hosts['tun.it'] = '127.0.0.1';
      },
    });
    return { ws, gate: await startGate(ws) };
  }
  const permitFor = (ws: GateWorkspace) => {
    const claims = permitClaims({ surface: 'vault', action: 'tunnel', htm: 'CONNECT', htu: `tun.it:${T}` });
    return { jti: claims.jti, token: signPermit(ws.issuer, claims) };
  };

  before(async () => {
    origin = net.createServer((s) => {
      seen.connections++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('data', (d) => { seen.bytes += d.length; s.write('pong'); });
      s.on('error', () => undefined);
    });
    T = await new Promise<number>((r) => origin.listen(0, '127.0.0.1', () => r((origin.address() as net.AddressInfo).port)));
    blocked = await gateWith([]);
    allowed = await gateWith(['127.0.0.1/32']);
  });
  after(async () => {
    await Promise.all([blocked?.gate.stop(), allowed?.gate.stop()]);
    for (const s of sockets) s.destroy();
    await new Promise((r) => origin.close(r));
  });

  it('a tunnel to a loopback destination with a valid permit: 403 DENY DESTINATION_PRIVATE, receipted, no connection', async () => {
    const { ws } = blocked;
    const before = seen.connections;
    const permit = permitFor(ws);
    const c = await connectThrough(ws.listenPort, `tun.it:${T}`, [`Proxy-Authorization: Bearer ${permit.token}`]);
    const rest = await readAnswer(c.socket);
    assert.equal(c.status, 403, c.head);
    assert.match(c.head, /egress-decision: DENY/i);
    assert.match(c.head, /egress-reason: DESTINATION_PRIVATE/i);
    const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
    assert.ok(id, 'a receipt id');
    const problem = JSON.parse(Buffer.concat([c.rest, Buffer.from(rest.raw)]).toString());
    assert.equal(problem.reason, 'DESTINATION_PRIVATE');
    assert.equal(problem.type, 'urn:egress-gate:reason:DESTINATION_PRIVATE');
    assert.equal(problem.receipt, id);
    assert.equal(seen.connections, before, 'the origin got a connection to a private address');

    const rec = shownReceipt(ws.receiptsDir, id);
    assert.equal(rec?.kind, 'decision');
    assert.equal(rec?.decision, 'DENY');
    assert.equal(rec?.reason, 'DESTINATION_PRIVATE');
    assert.equal(rec?.enforced, true);
    assert.equal(rec?.surface, 'vault');
    assert.equal(rec?.action, 'tunnel');
    assert.equal(rec?.request?.method, 'CONNECT');
    assert.equal(rec?.request?.url, `tun.it:${T}`);
    const all = shownReceipts(ws.receiptsDir);
    assert.equal(all.filter((r) => r.kind === 'outcome' && r.of === id).length, 0, 'nothing was spliced, so no outcome');
    assert.equal(all.filter((r) => r.kind === 'decision' && r.decision === 'PERMIT').length, 0);
  });

  it('control: with allow_cidrs [127.0.0.1/32] the same tunnel is spliced (PERMIT_VALID)', async () => {
    const { ws } = allowed;
    const before = seen.connections;
    const permit = permitFor(ws);
    const c = await connectThrough(ws.listenPort, `tun.it:${T}`, [`Proxy-Authorization: Bearer ${permit.token}`]);
    assert.equal(c.status, 200, c.head);
    assert.match(c.head, /egress-decision: PERMIT/i);
    const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
    c.socket.resume();
    const pong = new Promise<string>((r) => c.socket.once('data', (d: Buffer) => r(d.toString())));
    c.socket.write('ping');
    assert.equal(await pong, 'pong');
    c.socket.destroy();
    assert.equal(seen.connections, before + 1);
    const rec = shownReceipt(ws.receiptsDir, id);
    assert.equal(rec?.decision, 'PERMIT');
    assert.equal(rec?.reason, 'PERMIT_VALID');
    assert.equal(rec?.permit?.jti, permit.jti);
  });
});
