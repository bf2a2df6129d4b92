// `permit issue --connect host:port` mints a tunnel permit an IP-literal host can use (issue 16:
// `--url 127.0.0.1:8444` was refused by URL.canParse, and `localhost:8444` parsed as a scheme).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { decodeJwt } from 'jose';
import { cli, GATE_ID, ISS, receiptById, startGate, SUBJECT, workspace, type GateProcess, type GateWorkspace } from './harness.js';
import { connectThrough } from './https/kit.js';

describe('permit issue --connect', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let echo: net.Server;
  let T: number;
  const issue = (...extra: string[]) => cli(['permit', 'issue', '--key', ws.issuerKeyPath, '--iss', ISS, '--aud', GATE_ID, '--sub', SUBJECT,
    '--surface', 'vault', '--action', 'tunnel', ...extra]);

  before(async () => {
    echo = net.createServer((c) => c.pipe(c));
    T = await new Promise<number>((r) => echo.listen(0, '127.0.0.1', () => r((echo.address() as net.AddressInfo).port)));
    ws = await workspace({ routes: { routes: [{ surface: 'vault', action: 'tunnel', match: { scheme: 'https', host: '127.0.0.1', port: T }, authorize: 'permit', tunnel: true }] } });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await new Promise((r) => echo?.close(r)); });

  it('mints req.htm CONNECT, req.htu 127.0.0.1:PORT, and the gate splices the tunnel on it (PERMIT_VALID)', async () => {
    const r = issue('--connect', `127.0.0.1:${T}`);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.deepEqual(decodeJwt(token).req, { htm: 'CONNECT', htu: `127.0.0.1:${T}` });
    const c = await connectThrough(ws.listenPort, `127.0.0.1:${T}`, [`Proxy-Authorization: Bearer ${token}`]);
    assert.equal(c.status, 200, c.head);
    const id = /egress-receipt: (\S+)/i.exec(c.head)?.[1];
    assert.equal(receiptById(ws.receiptsDir, id)?.payload.reason, 'PERMIT_VALID');
    c.socket.resume();
    const got = await new Promise<string>((resolve) => { c.socket.once('data', (d: Buffer) => resolve(d.toString())); c.socket.write('ping'); });
    assert.equal(got, 'ping');
    c.socket.destroy();
  });

  it('binds IPv6 and names in the gate form: [::1]:443, lowercased host', () => {
    assert.deepEqual(decodeJwt(issue('--connect', '[0:0::1]:443').stdout.trim()).req, { htm: 'CONNECT', htu: '[::1]:443' });
    assert.deepEqual(decodeJwt(issue('--connect', 'API.Example.com:8443').stdout.trim()).req, { htm: 'CONNECT', htu: 'api.example.com:8443' });
  });

  it('--url host:port is a usage error pointing at --connect; so are --connect without a port and with --body', () => {
    const r = issue('--method', 'GET', '--url', '127.0.0.1:8444');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--url must be an absolute http:\/\/ or https:\/\/ URL \(got "127\.0\.0\.1:8444"\); for a tunnel permit \(CONNECT 127\.0\.0\.1:8444\) use --connect 127\.0\.0\.1:8444/);
    const l = issue('--method', 'GET', '--url', 'localhost:8444');
    assert.equal(l.code, 2, 'localhost:8444 is no longer taken as a URL with scheme "localhost:"');
    assert.match(l.stderr, /use --connect localhost:8444/);
    const n = issue('--connect', 'example.com');
    assert.equal(n.code, 2);
    assert.match(n.stderr, /--connect needs HOST:PORT/);
    const b = issue('--connect', 'example.com:443', '--body', 'x');
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--connect takes no --body/);
  });
});
