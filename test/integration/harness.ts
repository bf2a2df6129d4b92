/**
 * Integration harness: the gate as a real process (the built bin), real loopback origins,
 * real clients. Every server and process started here is closed by the returned stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'egress-gate.js');
export { genKey, tmpDir } from '../kit/keys.js';
import { genKey, tmpDir } from '../kit/keys.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

export interface SeenRequest { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> }

export interface Origin {
  port: number;
  requests: SeenRequest[];
  byPath(p: string): SeenRequest[];
  close(): Promise<void>;
}

/** An origin that records every request and answers 200 JSON (x-origin: test-origin). */
export async function startOrigin(tlsOpts?: { key: string; cert: string; maxHeaderSize?: number }): Promise<Origin> {
  const requests: SeenRequest[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), trailers: req.trailers });
      const delay = Number(req.headers['x-origin-delay'] ?? 0);
      if (delay > 0) await new Promise((r) => setTimeout(r, Math.min(delay, 20_000)));
      const body = JSON.stringify({ ok: true, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-origin': 'test-origin' });
      res.end(body);
    });
  };
  const server = tlsOpts ? https.createServer(tlsOpts, handler) : http.createServer(handler);
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
  return {
    port, requests,
    byPath: (p) => requests.filter((r) => r.url === p || r.url.startsWith(`${p}?`)),
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

export function cli(args: string[], opts: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', input: opts.input, env: cleanEnv(), timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?_proxy|all_proxy|no_proxy)$/i.test(k)) delete env[k];
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

export interface GateWorkspace {
  dir: string;
  configPath: string;
  config: Record<string, any>;
  listenPort: number;
  adminPort: number;
  receiptsDir: string;
  issuer: ReturnType<typeof genKey>;
  issuerKeyPath: string;
  caCert: string;
}

export const ISS = 'https://arbiter.it';
export const GATE_ID = 'gate-it';
export const SUBJECT = 'agent:it';

/** Writes keys, CA, route maps and a config; `routes` is a route-map document (object). */
export async function workspace(o: { routes: object; config?: (c: Record<string, any>) => void; dir?: string }): Promise<GateWorkspace> {
  const dir = o.dir ?? tmpDir();
  const listenPort = await freePort();
  const adminPort = await freePort();
  const keys = path.join(dir, 'keys');
  fs.mkdirSync(keys, { recursive: true });
  const receiptKey = genKey('EdDSA', 'receipts-it');
  fs.writeFileSync(path.join(keys, 'receipts.private.jwk.json'), JSON.stringify(receiptKey.privateJwk), { mode: 0o600 });
  const issuer = genKey('EdDSA', 'issuer-it-1');
  const issuerKeyPath = path.join(keys, 'issuer.private.jwk.json');
  fs.writeFileSync(issuerKeyPath, JSON.stringify(issuer.privateJwk), { mode: 0o600 });
  fs.writeFileSync(path.join(keys, 'issuer.jwks.json'), JSON.stringify({ keys: [issuer.publicJwk] }));
  fs.mkdirSync(path.join(dir, 'routes'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'routes', 'routes.yaml'), stringify(o.routes));
  const caDir = path.join(dir, 'ca');
  const r = cli(['ca', 'init', '--out', caDir]);
  if (r.code !== 0) throw new Error(`ca init failed: ${r.stderr}`);
  const config: Record<string, any> = {
    gate: { id: GATE_ID, subject: SUBJECT, listen: `127.0.0.1:${listenPort}`, admin: `127.0.0.1:${adminPort}`, mode: 'enforce' },
    policy: { routes: ['./routes/'] },
    permits: { issuers: [{ iss: ISS, jwks: './keys/issuer.jwks.json', algorithms: ['EdDSA', 'ES256'] }], replay: 'memory' },
    receipts: { dir: './receipts', key: './keys/receipts.private.jwk.json', durability: 'fsync' },
    tls: { ca_cert: './ca/ca.pem', ca_key: './ca/ca-key.pem', upstream_ca: [] },
    network: { block_private: false, hosts: { 'api.it': '127.0.0.1', 'open.it': '127.0.0.1' } },
    limits: { upstream_timeout: '5s' },
  };
  o.config?.(config);
  const configPath = path.join(dir, 'egress-gate.yaml');
  fs.writeFileSync(configPath, stringify(config));
  return { dir, configPath, config, listenPort, adminPort, receiptsDir: path.join(dir, 'receipts'), issuer, issuerKeyPath, caCert: path.join(caDir, 'ca.pem') };
}

export interface GateProcess {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
}

export async function startGate(ws: GateWorkspace, opts: { waitReady?: boolean } = {}): Promise<GateProcess> {
  const proc = spawn(process.execPath, [BIN, 'start', '--config', ws.configPath], { cwd: ws.dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  proc.stdout!.on('data', (d) => chunks.push(String(d)));
  proc.stderr!.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gate exited at start: ${chunks.join('')}`);
    try {
      const r = await adminGet(ws.adminPort, opts.waitReady === false ? '/healthz' : '/readyz');
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`gate not ready: ${chunks.join('')}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    output: () => chunks.join(''),
    stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return exited; },
    kill9: async () => { if (proc.exitCode === null) proc.kill('SIGKILL'); await exited; },
  };
}

export function adminGet(port: number, p: string): Promise<{ status: number; text: string; json?: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => {
        const text = Buffer.concat(c).toString('utf8');
        let json; try { json = JSON.parse(text); } catch { /* not json */ }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('admin timeout')));
  });
}

export interface Answer { status: number; headers: http.IncomingHttpHeaders; text: string; json?: any }

/** One absolute-form request through the proxy with node:http (full control of headers). */
export function viaProxy(port: number, url: string, o: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers = { host: u.host, ...(o.headers ?? {}) };
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: url, headers, agent: false, setHost: false }, (res) => {
      const c: Buffer[] = [];
      res.on('data', (d: Buffer) => c.push(d));
      res.on('end', () => {
        const text = Buffer.concat(c).toString('utf8');
        let json; try { json = JSON.parse(text); } catch { /* not json */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('proxy request timeout')));
    req.end(o.body);
  });
}

/** Raw bytes to the proxy port; resolves everything the gate answered until it closed or went quiet. */
export function rawExchange(port: number, bytes: string, quietMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const c: Buffer[] = [];
    let t: NodeJS.Timeout = setTimeout(() => s.destroy(), quietMs);
    s.on('data', (d) => { c.push(d); clearTimeout(t); t = setTimeout(() => s.destroy(), 300); });
    s.on('close', () => { clearTimeout(t); resolve(Buffer.concat(c).toString('utf8')); });
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

/** One entry of the v2 log (SPEC §9); checkpoint lines are not entries. `raw` is the line's text, the Merkle leaf. */
export interface ReceiptLine { file: string; line: number; raw: string; payload: any }

/**
 * The entries of the receipt log in dir, in order (checkpoint lines and dot-files skipped).
 * Only whole lines count: a commit the gate is writing while this reads ends without "\n".
 */
export function readReceipts(dir: string): ReceiptLine[] {
  if (!fs.existsSync(dir)) return [];
  const out: ReceiptLine[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    lines.pop(); // the text after the last newline: empty, or a line still being written
    lines.forEach((l, i) => {
      if (!l || l.startsWith('{"checkpoint":')) return;
      out.push({ file: f, line: i + 1, raw: l, payload: JSON.parse(l) });
    });
  }
  return out;
}

/** The checkpoint notes of the receipt log in dir, in order. */
export function readCheckpoints(dir: string): { file: string; line: number; note: string }[] {
  if (!fs.existsSync(dir)) return [];
  const out: { file: string; line: number; note: string }[] = [];
  for (const f of fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort()) {
    fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(0, -1).forEach((l, i) => {
      if (l.startsWith('{"checkpoint":')) out.push({ file: f, line: i + 1, note: (JSON.parse(l) as { checkpoint: string }).checkpoint });
    });
  }
  return out;
}

export function receiptById(dir: string, id: string | string[] | undefined): ReceiptLine | undefined {
  return readReceipts(dir).find((r) => r.payload.id === id);
}

/** Signs a permit with node:crypto (independent of the gate's own code). */
export function signPermit(key: ReturnType<typeof genKey>, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = Buffer.from(JSON.stringify({ alg: key.alg, typ: 'permit+jwt', kid: key.kid, ...header })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const input = `${h}.${p}`;
  const sig = key.alg === 'EdDSA'
    ? crypto.sign(null, Buffer.from(input), key.privateKey)
    : crypto.sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

export function permitClaims(o: { surface: string; action: string; htm: string; htu: string; ttl?: number; extra?: Record<string, unknown> }) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISS, aud: GATE_ID, sub: SUBJECT, iat: now, exp: now + (o.ttl ?? 120), jti: `jti-${crypto.randomUUID()}`,
    surface: o.surface, action: o.action, req: { htm: o.htm, htu: o.htu }, ...(o.extra ?? {}),
  };
}
