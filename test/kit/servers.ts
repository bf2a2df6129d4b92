/**
 * Test kit shared by unit and integration tests: TLS fixtures (an openssl CA and server
 * certificate), switchable loopback servers, signed route-map bundles, polling.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { genKey } from './keys.js';

export interface TlsFixture { caPath: string; caPem: string; key: string; cert: string }

/** A CA and a leaf for 127.0.0.1 and localhost, made with openssl in `dir`. */
export function makeTlsFixture(dir: string): TlsFixture {
  fs.mkdirSync(dir, { recursive: true });
  const p = (n: string) => path.join(dir, n);
  const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca-key.pem'), '-out', p('ca.pem'), '-days', '2', '-subj', '/CN=authority test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('leaf-key.pem'), '-out', p('leaf.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(p('leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ossl(['x509', '-req', '-in', p('leaf.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca-key.pem'), '-CAcreateserial', '-out', p('leaf.pem'), '-days', '2', '-extfile', p('leaf.ext')]);
  return { caPath: p('ca.pem'), caPem: fs.readFileSync(p('ca.pem'), 'utf8'), key: fs.readFileSync(p('leaf-key.pem'), 'utf8'), cert: fs.readFileSync(p('leaf.pem'), 'utf8') };
}

export type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

export interface Switchable {
  port: number;
  url(p: string): string;
  handler: Handler;
  hits: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  /** Stops listening and cuts every connection (the service is down). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/** An http(s) server on a fixed port whose handler the test replaces and which can go down and up. */
export async function switchable(handler: Handler, tls?: TlsFixture): Promise<Switchable> {
  const sockets = new Set<Socket>();
  const s: Switchable = {
    port: 0, handler, hits: [],
    url: (p) => `${tls ? 'https' : 'http'}://127.0.0.1:${s.port}${p}`,
    down: () => new Promise((r) => { for (const k of sockets) k.destroy(); if (server.listening) server.close(() => r()); else r(); }),
    up: () => new Promise((r) => server.listen(s.port, '127.0.0.1', () => r())),
    close: () => s.down(),
  };
  const onReq = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const c: Buffer[] = [];
    req.on('data', (d: Buffer) => c.push(d));
    req.on('end', () => {
      const body = Buffer.concat(c);
      s.hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      s.handler(req, body, res);
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, onReq) : http.createServer(onReq);
  server.on(tls ? 'secureConnection' : 'connection', (k: Socket) => { sockets.add(k); k.on('close', () => sockets.delete(k)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.port = (server.address() as AddressInfo).port;
  return s;
}

/** A compact JWS bundle of `yaml` (typ routemap+jwt unless overridden). */
export function signBundle(key: ReturnType<typeof genKey>, yaml: string, header: Record<string, unknown> = {}): string {
  const h = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'routemap+jwt', kid: key.kid, ...header })).toString('base64url');
  const input = `${h}.${Buffer.from(yaml).toString('base64url')}`;
  const sig = key.alg === 'EdDSA'
    ? crypto.sign(null, Buffer.from(input), key.privateKey)
    : crypto.sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** Serves `current()` with an ETag; 304 when If-None-Match matches. */
export function bundleHandler(current: () => string): Handler {
  return (req, _body, res) => {
    const token = current();
    const etag = `"${crypto.createHash('sha256').update(token).digest('hex').slice(0, 16)}"`;
    if (req.headers['if-none-match'] === etag) { res.writeHead(304, { etag }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/jwt', etag });
    res.end(token);
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `ms` passes. */
export async function eventually<T>(fn: () => Promise<T> | T, ms = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Decision receipts whose request URL is `url` (query excluded). */
