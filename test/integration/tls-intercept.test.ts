/**
 * sniffAndTerminate against real sockets: a loopback server that plays the proxy's part
 * after `200 Connection Established` (it calls sniffAndTerminate on each accepted socket),
 * real Node TLS clients, and the real openssl s_client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { initCa, loadCa } from '../../certs/ca.js';
import { createLeafIssuer, type LeafIssuer } from '../../certs/leaf-issuer.js';
import { serveOn, sniffAndTerminate, type SniffResult } from '../../proxy/arrivals/terminate-tls.js';

let dir: string;
let caPem: string;
let leafs: LeafIssuer;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eg-tls-intercept-'));
  const { certPath, keyPath } = await initCa(dir);
  caPem = await readFile(certPath, 'utf8');
  leafs = createLeafIssuer(await loadCa(certPath, keyPath));
});
after(() => rm(dir, { recursive: true, force: true }));

/**
 * A loopback listener standing in for the proxy after CONNECT: each accepted socket is
 * classified as if the CONNECT had named `host`. `head` is sent back as the bytes the
 * HTTP server read past the CONNECT request.
 */
async function gate(host: string, opts: { head?: (s: net.Socket) => Promise<Buffer>; timeoutMs?: number; onResult?: (r: SniffResult) => void } = {}) {
  const results: Promise<SniffResult>[] = [];
  const server = net.createServer((s) => {
    const p = (async () => sniffAndTerminate(s, opts.head ? await opts.head(s) : Buffer.alloc(0), { host, leafs, handshakeTimeoutMs: opts.timeoutMs ?? 5000 }))();
    results.push(p);
    if (opts.onResult) void p.then(opts.onResult);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    result: async (i = 0): Promise<SniffResult> => {
      for (let n = 0; n < 200 && !results[i]; n++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(results[i], 'the gate never accepted the connection');
      return results[i];
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** An HTTP server (never listening) that answers every request with what it saw. */
function echoServer(): http.Server {
  return http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, host: req.headers.host, body, encrypted: Boolean((req.socket as tls.TLSSocket).encrypted) }));
    });
  });
}

function connectTls(port: number, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: caPem, ALPNProtocols: ['http/1.1'], ...opts });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends raw bytes and collects everything until the peer closes. */
function exchange(sock: net.Socket, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    sock.on('data', (c: Buffer) => { out += c.toString(); if (out.includes('}')) { sock.destroy(); resolve(out); } });
    sock.on('error', reject);
    sock.on('close', () => resolve(out));
    sock.write(bytes);
  });
}

describe('sniffAndTerminate', () => {
  test('(a) TLS with SNI naming the CONNECT host: handshake succeeds, ALPN http/1.1, leaf verifies for the host', async () => {
    const g = await gate('api.example.test');
    try {
      const client = await connectTls(g.port, { servername: 'api.example.test' });
      assert.equal(client.authorized, true, String(client.authorizationError));
      assert.equal(client.alpnProtocol, 'http/1.1');
      const peer = client.getPeerX509Certificate();
      assert.ok(peer);
      assert.equal(peer.checkHost('api.example.test'), 'api.example.test');
      assert.ok(peer.verify(new X509Certificate(caPem).publicKey));
      const r = await g.result();
      assert.equal(r.kind, 'tls');
      client.destroy();
    } finally {
      await g.close();
    }
  });

  test('SNI is compared case-insensitively and without a trailing dot', async () => {
    const g = await gate('Api.Example.Test.');
    try {
      const client = await connectTls(g.port, { servername: 'api.example.test', checkServerIdentity: () => undefined });
      assert.equal((await g.result()).kind, 'tls');
      client.destroy();
    } finally {
      await g.close();
    }
  });

  test('(b) an SNI naming another host fails the handshake for the client and yields sni-mismatch', async () => {
    const g = await gate('api.example.test');
    try {
      await assert.rejects(connectTls(g.port, { servername: 'evil.example.test' }), (e: NodeJS.ErrnoException) => {
        assert.match(String(e.code ?? e.message), /ERR_SSL|ECONNRESET|alert/i);
        return true;
      });
      assert.deepEqual(await g.result(), { kind: 'sni-mismatch', sni: 'evil.example.test' });
    } finally {
      await g.close();
    }
  });

  test('(c) no SNI for an IP-literal host: accepted, the leaf carries an IP SAN', async () => {
    for (const [host, addr] of [['127.0.0.1', '127.0.0.1'], ['[::1]', '::1']] as const) {
      const g = await gate(host);
      try {
        // No servername: Node sends no SNI and checks the IP against the certificate.
        const client = await connectTls(g.port, { checkServerIdentity: (_h, cert) => tls.checkServerIdentity(addr, cert) });
        assert.equal(client.authorized, true, String(client.authorizationError));
        const peer = client.getPeerX509Certificate();
        assert.equal(peer?.checkIP(addr), addr);
        assert.equal(peer?.checkHost('localhost'), undefined);
        assert.equal((await g.result()).kind, 'tls');
        client.destroy();
      } finally {
        await g.close();
      }
    }
  });

  test('(d) a plain HTTP request line yields plain with the bytes intact, read either from head or the socket', async () => {
    const request = 'POST /v1/things?q=1 HTTP/1.1\r\nHost: api.example.test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
    // head: the HTTP server read the first bytes already; otherwise they arrive after the sniff starts.
    const modes = [
      { name: 'from the socket', head: undefined },
      { name: 'from head', head: (s: net.Socket) => new Promise<Buffer>((r) => s.once('data', (c: Buffer) => { s.pause(); r(c); })) },
    ];
    for (const mode of modes) {
      const http1 = echoServer();
      const g = await gate('api.example.test', {
        ...(mode.head ? { head: mode.head } : {}),
        onResult: (r) => { if (r.kind === 'plain') setTimeout(() => serveOn(http1, r.socket), 20); },
      });
      try {
        const out = await exchange(net.connect(g.port, '127.0.0.1'), request);
        assert.equal((await g.result()).kind, 'plain', mode.name);
        const body = JSON.parse(out.slice(out.indexOf('{')));
        assert.deepEqual(body, { method: 'POST', url: '/v1/things?q=1', host: 'api.example.test', body: 'hello', encrypted: false }, mode.name);
      } finally {
        await g.close();
      }
    }
  });

  test('the TLS socket served by an http.Server carries the request sent right after the handshake', async () => {
    const http1 = echoServer();
    const g = await gate('api.example.test', {
      // The hand-off happens a while after the handshake: bytes sent meanwhile must not be lost.
      onResult: (r) => { if (r.kind === 'tls') setTimeout(() => serveOn(http1, r.socket), 50); },
    });
    try {
      const client = await connectTls(g.port, { servername: 'api.example.test' });
      const out = await exchange(client, 'GET /inside HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n\r\n');
      const body = JSON.parse(out.slice(out.indexOf('{')));
      assert.deepEqual(body, { method: 'GET', url: '/inside', host: 'api.example.test', body: '', encrypted: true });
    } finally {
      await g.close();
    }
  });

  test('TLS whose ClientHello arrived in head is terminated too', async () => {
    const g = await gate('api.example.test', { head: (s) => new Promise<Buffer>((r) => s.once('data', (c: Buffer) => { s.pause(); r(c); })) });
    try {
      const client = await connectTls(g.port, { servername: 'api.example.test' });
      assert.equal(client.alpnProtocol, 'http/1.1');
      assert.equal((await g.result()).kind, 'tls');
      client.destroy();
    } finally {
      await g.close();
    }
  });

  test('a client that starts a handshake and stalls is closed at the handshake timeout', async () => {
    const g = await gate('api.example.test', { timeoutMs: 300 });
    try {
      const s = net.connect(g.port, '127.0.0.1');
      const closed = new Promise<void>((r) => s.on('close', () => r()));
      s.on('error', () => {});
      s.write(Buffer.from([0x16, 0x03, 0x01])); // a TLS record header, then nothing
      const t0 = Date.now();
      assert.deepEqual(await g.result(), { kind: 'closed' });
      await closed;
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      await g.close();
    }
  });

  test('a client that closes before sending anything yields closed', async () => {
    const g = await gate('api.example.test');
    try {
      const s = net.connect(g.port, '127.0.0.1', () => s.end());
      assert.deepEqual(await g.result(), { kind: 'closed' });
    } finally {
      await g.close();
    }
  });

  test('(e) openssl s_client with -servername other.test fails; with the CONNECT host it verifies', async () => {
    const g = await gate('api.example.test');
    try {
      const caFile = path.join(dir, 'ca.pem');
      const bad = await sClient(['-connect', `127.0.0.1:${g.port}`, '-servername', 'other.test', '-CAfile', caFile]);
      assert.notEqual(bad.code, 0, bad.out);
      // No certificate ever reaches the client: the handshake ends before the server's flight.
      assert.match(bad.out, /no peer certificate available/, bad.out);
      assert.deepEqual(await g.result(0), { kind: 'sni-mismatch', sni: 'other.test' });

      const good = await sClient(['-connect', `127.0.0.1:${g.port}`, '-servername', 'api.example.test', '-verify_hostname', 'api.example.test', '-verify_return_error', '-CAfile', caFile, '-alpn', 'http/1.1']);
      assert.match(good.out, /Verify return code: 0 \(ok\)/, good.out);
      assert.match(good.out, /ALPN protocol: http\/1\.1/, good.out);
      assert.equal((await g.result(1)).kind, 'tls');
    } finally {
      await g.close();
    }
  });
});

describe('behind a real CONNECT (http.Server "connect" event) with curl as the client', () => {
  test('curl -x over HTTPS: TLS terminated with the CONNECT host\'s leaf, request served inside; curl -p over http:// arrives plain', async () => {
    const inner = echoServer();
    const proxy = http.createServer((_req, res) => { res.statusCode = 405; res.end(); });
    const kinds: string[] = [];
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const host = (req.url ?? '').replace(/:\d+$/, '');
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      void sniffAndTerminate(socket, head, { host, leafs }).then((r) => {
        kinds.push(r.kind);
        if (r.kind === 'tls' || r.kind === 'plain') serveOn(inner, r.socket);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as net.AddressInfo).port;
    try {
      const https = await curl(['-x', `http://127.0.0.1:${port}`, '--cacert', path.join(dir, 'ca.pem'), 'https://api.example.test:8443/over-tls']);
      assert.equal(https.code, 0, https.out);
      assert.deepEqual(JSON.parse(https.out), { method: 'GET', url: '/over-tls', host: 'api.example.test:8443', body: '', encrypted: true });
      const plain = await curl(['-p', '-x', `http://127.0.0.1:${port}`, 'http://api.example.test:8080/in-the-clear']);
      assert.equal(plain.code, 0, plain.out);
      assert.deepEqual(JSON.parse(plain.out), { method: 'GET', url: '/in-the-clear', host: 'api.example.test:8080', body: '', encrypted: false });
      assert.deepEqual(kinds, ['tls', 'plain']);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});

function curl(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // This stand-in proxy serves what it terminates with an HTTP/1.1 server only; the gate hands
    // ALPN h2 to its HTTP/2 sessions (test/integration/https/h2-interception.test.ts).
    const p = spawn('curl', ['-sS', '--http1.1', '--max-time', '10', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
  });
}

function sClient(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => p.kill(), 10_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
    // Closing stdin ends the session once the handshake is over.
    p.stdin.end();
  });
}
