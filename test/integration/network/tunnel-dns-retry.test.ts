/**
 * A tunnel route whose name did not resolve when the CONNECT was decided is resolved again
 * before connecting, as plain requests and upgrades are (the three paths once differed: the
 * tunnel answered 502 at once). The gate runs in this process with a scripted resolver that
 * fails the first lookup and answers loopback afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { loadConfig } from '../../../policy/load-config.js';
import { startGate, type RunningGate } from '../../../proxy/gate.js';
import { createLogger } from '../../../runtime/logger.js';
import { readReceipts, workspace, type GateWorkspace } from '../harness.js';

describe('network: a tunnel route resolves again after a failed lookup', () => {
  let origin: net.Server;
  let port: number;
  let ws: GateWorkspace;
  let gate: RunningGate;
  const calls: string[] = [];

  before(async () => {
    origin = net.createServer((s) => { s.on('data', (d) => s.write(`echo:${d}`)); s.on('error', () => undefined); });
    port = await new Promise<number>((r) => origin.listen(0, '127.0.0.1', () => r((origin.address() as net.AddressInfo).port)));
    ws = await workspace({
      routes: { routes: [{ surface: 'db', action: 'connect', match: { host: 'db.retry.it', port }, authorize: 'none', tunnel: true }] },
      config: (c) => { c.network = { block_private: false, hosts: {} }; },
    });
    const lookup = async (host: string) => {
      calls.push(host);
      if (calls.length === 1) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return { address: '127.0.0.1', family: 4 };
    };
    gate = await startGate(await loadConfig(ws.configPath), { lookup, log: createLogger({ level: 'silent' }) });
  });
  after(async () => { await gate?.stop(1000); origin?.close(); });

  it('the CONNECT is decided, then the name is looked up again and the tunnel opens', async () => {
    const s = net.connect(ws.listenPort, '127.0.0.1');
    let got = '';
    s.on('data', (d) => { got += String(d); if (got.includes('\r\n\r\n') && !got.includes('echo:')) s.write('ping'); });
    s.write(`CONNECT db.retry.it:${port} HTTP/1.1\r\nHost: db.retry.it:${port}\r\n\r\n`);
    for (let i = 0; i < 50 && !got.includes('echo:ping'); i++) await new Promise((r) => setTimeout(r, 50));
    s.destroy();
    assert.match(got, /^HTTP\/1\.1 200 Connection Established\r\n/, got);
    assert.match(got, /echo:ping/);
    assert.deepEqual(calls, ['db.retry.it', 'db.retry.it']);
    const id = /egress-receipt: (\S+)/i.exec(got)?.[1];
    for (let i = 0; i < 50 && !readReceipts(ws.receiptsDir).some((r) => r.payload.of === id); i++) await new Promise((r) => setTimeout(r, 50));
    const decision = readReceipts(ws.receiptsDir).find((r) => r.payload.id === id)?.payload;
    assert.equal(decision?.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(decision?.request.method, 'CONNECT');
    const outcome = readReceipts(ws.receiptsDir).find((r) => r.payload.of === id)?.payload;
    assert.equal(outcome?.status, 200);
    assert.equal(outcome?.error, null);
  });
});
