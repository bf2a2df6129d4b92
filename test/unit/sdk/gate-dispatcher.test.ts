/**
 * gateDispatcher: requests go through the proxy (CONNECT), and the HTTPS inside the tunnel
 * is trusted only because of the given CA. A real loopback CONNECT proxy and an HTTPS origin
 * whose certificate is signed by a CA made with openssl stand in for the gate.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { bindRequest, gateDispatcher, PERMIT_HEADER } from '../../../sdk/index.js';
import { tmpDir } from '../policy/permits/permit-kit.js';

describe('sdk gateDispatcher', () => {
  let proxy: HttpServer;
  let origin: HttpsServer;
  let caPem = '';
  const connects: string[] = [];
  const seenPermits: (string | undefined)[] = [];

  before(async () => {
    const dir = tmpDir('eg-sdk-');
    const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test gate CA');
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=localhost');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
    o('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '1', '-extfile', 'ext.cnf');
    caPem = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    origin = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (req, res) => {
      seenPermits.push(req.headers[PERMIT_HEADER.toLowerCase()] as string | undefined);
      res.end('hello');
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    proxy = createHttpServer();
    proxy.on('connect', (req, socket, head) => {
      connects.push(req.url ?? '');
      // Every CONNECT goes to the origin, whatever it names: the proxy stands in for the gate.
      const up = connect((origin.address() as AddressInfo).port, '127.0.0.1', () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        up.write(head);
        up.pipe(socket).pipe(up);
      });
      up.on('error', () => socket.destroy());
      socket.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    proxy.closeAllConnections();
    origin.closeAllConnections();
    await Promise.all([new Promise((r) => proxy.close(r)), new Promise((r) => origin.close(r))]);
  });

  it('tunnels through the proxy and trusts the gate CA for the intercepted HTTPS', async () => {
    const dispatcher = gateDispatcher({ proxyUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, caPem });
    const res = await request('https://localhost:8443/v1/items?x=1', { dispatcher, headers: { [PERMIT_HEADER]: 'token-1' } });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'hello');
    assert.deepEqual(connects, ['localhost:8443']);
    assert.deepEqual(seenPermits, ['token-1']);
    await dispatcher.close();
  });

  it('without the CA the same request fails TLS verification', async () => {
    const dispatcher = gateDispatcher({ proxyUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, caPem: '' });
    await assert.rejects(request('https://localhost:8443/', { dispatcher }), (e: Error & { code?: string; cause?: { code?: string } }) => /CERT|certificate/i.test(`${e.code} ${e.cause?.code} ${e.message}`));
    await dispatcher.close();
  });

  it('bindRequest: htm, htu, qh and bdh as the gate computes them', () => {
    assert.deepEqual(bindRequest({ method: 'get', url: 'HTTPS://Api.Test:443/a/./b?q=1#frag' }), {
      htm: 'GET', htu: 'https://api.test/a/b', qh: 'AvXm42wDadXbyRlfsM9tXrQVpiDQuAuLwIADkYbiaSU',
    });
    assert.deepEqual(bindRequest({ method: 'POST', url: 'http://api.test/x', body: '' }), {
      htm: 'POST', htu: 'http://api.test/x', bdh: '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU',
    });
    assert.deepEqual(bindRequest({ method: 'CONNECT', url: 'DB.test:5432' }), { htm: 'CONNECT', htu: 'db.test:5432' });
  });
});
