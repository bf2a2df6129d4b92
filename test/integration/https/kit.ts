/**
 * Parts for the HTTPS integration tests: a test PKI made with the real openssl, sockets
 * through a CONNECT, a minimal RFC 6455 WebSocket origin and client (no ws dependency),
 * and the Node 24 binary for its built-in fetch with NODE_USE_ENV_PROXY.
 */
import { execFile } from 'node:child_process';
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export interface TestCa { certPath: string; keyPath: string; certPem: string }
export interface TestLeaf { certPem: string; keyPem: string }

/** A P-256 CA made with openssl (basicConstraints CA:TRUE, keyCertSign). */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  fs.mkdirSync(dir, { recursive: true });
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}-key.pem`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-addext', 'subjectKeyIdentifier=hash']);
  return { certPath, keyPath, certPem: fs.readFileSync(certPath, 'utf8') };
}

/** A server leaf for `names` (DNS SANs), signed by `ca` with openssl. */
export async function makeLeaf(dir: string, ca: TestCa, name: string, names: string[]): Promise<TestLeaf> {
  const key = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, [
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, 'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid,issuer', '',
  ].join('\n'));
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0]}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { certPem: fs.readFileSync(cert, 'utf8'), keyPem: fs.readFileSync(key, 'utf8') };
}

let node24: Promise<string> | undefined;
/** Node 24's binary (npm exec caches it); once per process. */
export function node24Path(): Promise<string> {
  node24 ??= run('npm', ['exec', '-y', '-p', 'node@24', '--', '-p', 'process.execPath'], { env: { ...process.env, npm_config_yes: 'true' } })
    .then(({ stdout }) => stdout.trim().split('\n').pop()!.trim());
  return node24;
}

/** Sends CONNECT `authority` (extra header lines allowed); resolves the socket and the gate's answer head. */
export function connectThrough(gatePort: number, authority: string, extra: string[] = []): Promise<{ socket: net.Socket; status: number; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(gatePort, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const head = buf.subarray(0, end).toString('latin1');
      resolve({ socket, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, rest: buf.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write([`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, ...extra, '', ''].join('\r\n'));
  });
}

/** TLS over a socket that already passed CONNECT. */
export function tlsOver(socket: net.Socket, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket, ALPNProtocols: ['http/1.1'], ...opts });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads one HTTP/1.1 answer from a stream: head, headers (lowercased) and the rest until close or `untilBytes`. */
export function readAnswer(s: Duplex, timeoutMs = 5000): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(t);
      const text = buf.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const head = end < 0 ? text : text.slice(0, end);
      const headers: Record<string, string> = {};
      for (const l of head.split('\r\n').slice(1)) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers, body: end < 0 ? '' : text.slice(end + 4), raw: text });
    };
    const t = setTimeout(() => { s.destroy(); finish(); }, timeoutMs);
    s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
    s.once('close', finish);
    s.on('error', () => undefined);
    s.resume();
  });
}

/** True when `pem` is signed by `caPem` and names `host` (DNS or IP SAN). */
export function leafNames(pem: string, caPem: string, host: string): { chains: boolean; names: boolean; san: string } {
  const leaf = new X509Certificate(pem);
  const ca = new X509Certificate(caPem);
  return { chains: leaf.checkIssued(ca) && leaf.verify(ca.publicKey), names: Boolean(net.isIP(host) ? leaf.checkIP(host) : leaf.checkHost(host)), san: leaf.subjectAltName ?? '' };
}

// ---- WebSocket (RFC 6455): just the handshake and single small frames ----

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
export const wsAccept = (key: string) => crypto.createHash('sha1').update(key + WS_GUID).digest('base64');

/** One unfragmented frame; client frames are masked (§5.3). Payload < 126 bytes. */
export function wsFrame(text: string, masked: boolean, opcode = 0x1): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('test frames are small');
  if (!masked) return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
  const mask = crypto.randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, body]);
}

/** Parses one small frame at the start of `b`; undefined until it is complete. */
export function wsParse(b: Buffer): { opcode: number; text: string; size: number } | undefined {
  if (b.length < 2) return undefined;
  const len = b[1]! & 0x7f;
  const masked = (b[1]! & 0x80) !== 0;
  const off = 2 + (masked ? 4 : 0);
  if (b.length < off + len) return undefined;
  const body = Buffer.from(b.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) body[i] = body[i]! ^ b[2 + (i % 4)]!;
  return { opcode: b[0]! & 0x0f, text: body.toString('utf8'), size: off + len };
}

export interface WsOrigin {
  port: number;
  /** Every upgrade request the origin received. */
  upgrades: { url: string; headers: http.IncomingHttpHeaders }[];
  /** Every plain (non-upgrade) request it received. */
  plain: { url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * A WebSocket echo origin: answers `echo:<text>` to each text frame, a close frame with a
 * close frame. `/refuse/**` is answered 426 without upgrading.
 */
export async function startWsOrigin(tlsOpts?: TestLeaf): Promise<WsOrigin> {
  const upgrades: WsOrigin['upgrades'] = [];
  const plain: WsOrigin['plain'] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    plain.push({ url: req.url ?? '', headers: req.headers });
    res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end('upgrade required');
  };
  const server = tlsOpts ? https.createServer({ key: tlsOpts.keyPem, cert: tlsOpts.certPem }, onRequest) : http.createServer(onRequest);
  const sockets = new Set<Duplex>();
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const key = req.headers['sec-websocket-key'];
    if ((req.url ?? '').startsWith('/refuse') || typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\nrefused');
      return;
    }
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${wsAccept(key)}`, 'X-Ws-Origin: yes', '', ''].join('\r\n'));
    let buf = head;
    const drain = () => {
      for (let f = wsParse(buf); f; f = wsParse(buf)) {
        buf = buf.subarray(f.size);
        if (f.opcode === 0x8) { socket.end(wsFrame('', false, 0x8)); return; }
        if (f.opcode === 0x1) socket.write(wsFrame(`echo:${f.text}`, false));
      }
    };
    socket.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); drain(); });
    drain();
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
  return {
    port, upgrades, plain,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * A WebSocket client on `s`: sends the upgrade request (`target` in origin- or absolute form),
 * checks the 101 and Sec-WebSocket-Accept, sends `messages`, collects the echoes, then closes.
 */
export async function wsSession(s: Duplex, target: string, host: string, messages: string[], extraHeaders: string[] = []): Promise<{ status: number; headers: Record<string, string>; echoes: string[]; raw: string }> {
  const key = crypto.randomBytes(16).toString('base64');
  s.write([`GET ${target} HTTP/1.1`, `Host: ${host}`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', ...extraHeaders, '', ''].join('\r\n'));
  let buf = Buffer.alloc(0);
  let head: { status: number; headers: Record<string, string>; raw: string } | undefined;
  const echoes: string[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { s.destroy(); reject(new Error(`ws session timed out: ${buf.toString('latin1').slice(0, 300)}`)); }, 8000);
    const done = () => { clearTimeout(t); resolve({ ...(head ?? { status: 0, headers: {}, raw: buf.toString('latin1') }), echoes }); };
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (head && head.status !== 101) { head.raw += d.toString('latin1'); return; }
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const text = buf.subarray(0, end).toString('latin1');
        const headers: Record<string, string> = {};
        for (const l of text.split('\r\n').slice(1)) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
        head = { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), headers, raw: buf.toString('latin1') };
        buf = buf.subarray(end + 4);
        if (head.status !== 101) { s.end(); return; }
        if (headers['sec-websocket-accept'] !== wsAccept(key)) { reject(new Error('bad Sec-WebSocket-Accept')); s.destroy(); return; }
        for (const m of messages) s.write(wsFrame(m, true));
        if (messages.length === 0) s.write(wsFrame('', true, 0x8));
      }
      if (head.status !== 101) return;
      for (let f = wsParse(buf); f; f = wsParse(buf)) {
        buf = buf.subarray(f.size);
        if (f.opcode === 0x1) {
          echoes.push(f.text);
          if (echoes.length === messages.length) s.write(wsFrame('', true, 0x8));
        }
        if (f.opcode === 0x8) s.end();
      }
    });
    s.once('close', done);
    s.on('error', () => undefined);
    s.resume();
  });
}
