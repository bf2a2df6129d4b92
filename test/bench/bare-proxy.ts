/**
 * The baseline a user would write by hand: a forwarding proxy with http.createServer and one
 * undici Pool per origin, streaming answers back with Pool.stream(). No policy, no receipts,
 * no TLS interception. Run: `node --import tsx test/bench/bare-proxy.ts PORT` (prints
 * `listening PORT`).
 */
import http from 'node:http';
import { Pool } from 'undici';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const pools = new Map<string, Pool>();

function pool(origin: string): Pool {
  let p = pools.get(origin);
  if (!p) { p = new Pool(origin, { connections: 64 }); pools.set(origin, p); }
  return p;
}

const server = http.createServer((req, res) => {
  let u: URL;
  try { u = new URL(req.url ?? ''); } catch { res.writeHead(400).end(); return; }
  const headers: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (!HOP.has(req.rawHeaders[i]!.toLowerCase())) headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  headers.push('host', u.host);
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  pool(u.origin).stream({ path: u.pathname + u.search, method: req.method ?? 'GET', headers, body: hasBody ? req : null }, ({ statusCode, headers: up }) => {
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up)) if (v !== undefined && !HOP.has(k)) out[k] = v;
    res.writeHead(statusCode, out);
    return res;
  }).catch(() => { if (!res.headersSent) res.writeHead(502).end(); else res.destroy(); });
});
server.keepAliveTimeout = 60_000;
const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => process.exit(0));
