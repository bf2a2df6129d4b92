/**
 * Raw-socket helpers for the network tests: write exact bytes, read the gate's answer, and a
 * counting origin that can bind any loopback address.
 */
import http from 'node:http';
import net from 'node:net';
import { rawExchange } from '../harness.js';

export interface RawAnswer { raw: string; status: number; headers: Record<string, string>; body: string; json?: any }

/** Parses the first HTTP response in `raw` (status 0 when the gate closed without answering). */
export function parseAnswer(raw: string): RawAnswer {
  const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
  if (!m) return { raw, status: 0, headers: {}, body: '' };
  const headers: Record<string, string> = {};
  for (const line of m[2]!.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let json; try { json = JSON.parse(m[3]!); } catch { /* not json */ }
  return { raw, status: Number(m[1]), headers, body: m[3]!, json };
}

/** Sends `bytes` on a fresh connection and parses the answer. */
export async function rawRequest(port: number, bytes: string, quietMs = 1500): Promise<RawAnswer> {
  return parseAnswer(await rawExchange(port, bytes, quietMs));
}

/** A GET in absolute form whose Host header spells the authority exactly as the URI does. */
export function absoluteGet(authority: string, path = '/x', extra = ''): string {
  return `GET http://${authority}${path} HTTP/1.1\r\nHost: ${authority}\r\n${extra}Connection: close\r\n\r\n`;
}

export interface CountingOrigin { port: number; hits: string[]; close(): Promise<void> }

/** An HTTP origin on `host` (any loopback address) that records every request line it gets. */
export async function countingOrigin(host: string, port = 0, headersSeen?: http.IncomingHttpHeaders[]): Promise<CountingOrigin> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    headersSeen?.push(req.headers);
    req.resume();
    req.on('end', () => res.end(`origin ${host}`));
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const bound = await new Promise<number>((r, j) => { server.once('error', j); server.listen(port, host, () => r((server.address() as net.AddressInfo).port)); });
  return { port: bound, hits, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

/** An origin that records the request line of every request and upgrade, answers upgrades 101 with the token asked for, and records what arrives after a 101. */
export interface UpgradeOrigin { port: number; seen: string[]; afterUpgrade: string[]; close(): Promise<void> }

export async function upgradeOrigin(): Promise<UpgradeOrigin> {
  const seen: string[] = [];
  const afterUpgrade: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => res.end('origin'));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    seen.push(`${req.method} ${req.url}`);
    const token = req.url?.includes('answer-h2c') ? 'h2c' : String(req.headers.upgrade ?? '');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${token}\r\n\r\n`);
    socket.on('data', (d: Buffer) => {
      afterUpgrade.push(d.toString('latin1'));
      // A request smuggled through a splice reaches the origin as raw bytes: count its request line.
      for (const m of d.toString('latin1').matchAll(/^([A-Z]+) (\S+) HTTP\/1\.[01]\r?$/gm)) seen.push(`${m[1]} ${m[2]}`);
    });
    socket.on('error', () => undefined);
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
  return { port, seen, afterUpgrade, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}
