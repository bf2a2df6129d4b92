/**
 * The Node load generator (a child process of run.ts): closed-loop connections, one request
 * in flight each, through a proxy or straight to the origin. Modes: plain HTTP with an
 * absolute-URI request line; TLS keep-alive (CONNECT once, then one TLS session per
 * connection, reused); TLS new (CONNECT + full handshake + Connection: close per request).
 * Permits are minted before the clock starts (one fresh jti per request). One shared
 * SecureContext per process, so handshakes do not re-parse the CA.
 *
 * Protocol on stdio: argv[2] is a GenSpec (JSON). Prints `ready` once permits are minted;
 * reads `warmup` (runs warmupSec, prints `warm`) and `measure` (runs seconds, prints
 * `result <json>`, exits).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import tls from 'node:tls';
import { Histogram } from './lib/histogram.js';
import { RawConn, connectTunnel, tcp, tlsOver } from './lib/raw-http.js';

export interface PermitSpec { jwkPath: string; iss: string; aud: string; sub: string; surface: string; action: string; htu: string; count: number }

export interface GenSpec {
  mode: 'http' | 'tls-keepalive' | 'tls-new';
  /** Where the TCP connection goes: a proxy, or the origin itself. */
  port: number;
  viaProxy: boolean;
  /** The origin, host:port; host is checked against its certificate in TLS modes. */
  authority: string;
  host: string;
  path: string;
  method: 'GET' | 'POST';
  bodyBytes: number;
  connections: number;
  warmupSec: number;
  seconds: number;
  /** PEM files trusted in TLS modes. */
  ca: string[];
  permit?: PermitSpec & { bindBody: boolean };
}

export interface GenResult {
  requests: number; ok: number; non2xx: number; errors: number; seconds: number;
  cpuSeconds: number; latency: Record<string, number>; permitsExhausted: boolean; firstError?: string;
}

const spec = JSON.parse(process.argv[2]!) as GenSpec;
const body = Buffer.alloc(spec.bodyBytes, 'a');
const ctx = spec.mode === 'http' ? undefined : tls.createSecureContext({ ca: spec.ca.map((f) => fs.readFileSync(f, 'utf8')) });

function mint(p: NonNullable<GenSpec['permit']>): string[] {
  const jwk = JSON.parse(fs.readFileSync(p.jwkPath, 'utf8')) as crypto.JsonWebKey & { kid: string; alg: string };
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const h = Buffer.from(JSON.stringify({ alg: jwk.alg ?? 'EdDSA', typ: 'permit+jwt', kid: jwk.kid })).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const req: Record<string, string> = { htm: spec.method, htu: p.htu };
  if (p.bindBody) req.bdh = crypto.createHash('sha256').update(body).digest('base64url');
  const prefix = `${process.pid}-${crypto.randomBytes(4).toString('hex')}-`;
  const out: string[] = [];
  for (let i = 0; i < p.count; i++) {
    const claims = { iss: p.iss, aud: p.aud, sub: p.sub, iat: now, exp: now + 300, jti: prefix + i, surface: p.surface, action: p.action, req };
    const input = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    out.push(`${input}.${crypto.sign(null, Buffer.from(input), key).toString('base64url')}`);
  }
  return out;
}

const permits = spec.permit ? mint(spec.permit) : undefined;
let next = 0;
const target = spec.mode === 'http' && spec.viaProxy ? `http://${spec.authority}${spec.path}` : spec.path;
const fixedHead = `${spec.method} ${target} HTTP/1.1\r\nHost: ${spec.authority}\r\nUser-Agent: egress-bench\r\n`
  + (spec.bodyBytes ? `Content-Type: application/octet-stream\r\nContent-Length: ${spec.bodyBytes}\r\n` : '')
  + (spec.mode === 'tls-new' ? 'Connection: close\r\n' : '');

/** The next request's bytes, or undefined when the minted permits ran out. */
function requestBytes(): Buffer | string | undefined {
  let head = fixedHead;
  if (permits) {
    if (next >= permits.length) return undefined;
    head += `Egress-Permit: ${permits[next++]}\r\n`;
  }
  head += '\r\n';
  return spec.bodyBytes ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : head;
}

async function open(): Promise<RawConn> {
  const sock = await tcp(spec.port);
  if (spec.mode === 'http') return new RawConn(sock);
  const inner = spec.viaProxy ? await connectTunnel(sock, spec.authority) : sock;
  return new RawConn(await tlsOver({ socket: inner, host: spec.host, ctx: ctx! }));
}

interface Tally { h: Histogram; requests: number; ok: number; non2xx: number; errors: number; firstError?: string; exhausted: boolean }

async function worker(end: number, t: Tally): Promise<void> {
  let conn: RawConn | undefined;
  while (performance.now() < end) {
    const bytes = requestBytes();
    if (bytes === undefined) { t.exhausted = true; break; }
    const t0 = performance.now();
    try {
      if (!conn || conn.closed) conn = await open();
      const status = await conn.request(bytes);
      t.h.record((performance.now() - t0) * 1000);
      t.requests++;
      if (status >= 200 && status < 300) t.ok++; else t.non2xx++;
      if (spec.mode === 'tls-new') { conn.close(); conn = undefined; }
    } catch (e) {
      t.requests++;
      t.errors++;
      t.firstError ??= (e as Error).message;
      conn?.close();
      conn = undefined;
    }
  }
  conn?.close();
}

async function phase(seconds: number): Promise<GenResult> {
  const t: Tally = { h: new Histogram(), requests: 0, ok: 0, non2xx: 0, errors: 0, exhausted: false };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: spec.connections }, () => worker(t0 + seconds * 1000, t)));
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return {
    requests: t.requests, ok: t.ok, non2xx: t.non2xx, errors: t.errors, seconds: wall, cpuSeconds: (c.user + c.system) / 1e6,
    latency: t.h.toJSON(), permitsExhausted: t.exhausted, ...(t.firstError ? { firstError: t.firstError } : {}),
  };
}

process.stdout.write('ready\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'warmup') { await phase(spec.warmupSec); process.stdout.write('warm\n'); }
  if (line === 'measure') { process.stdout.write(`result ${JSON.stringify(await phase(spec.seconds))}\n`); process.exit(0); }
}
