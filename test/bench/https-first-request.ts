/**
 * First-request cost through the gate over HTTPS: a new CONNECT host (leaf minted on first
 * use) vs a host whose leaf is cached, each on a new connection (CONNECT + two TLS
 * handshakes + one GET). Run: `npm run build && node --import tsx test/bench/https-first-request.ts [hosts]`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startGate, startOrigin, tmpDir, workspace } from '../integration/harness.js';
import { connectThrough, makeCa, makeLeaf, readAnswer, tlsOver } from '../integration/https/kit.js';

const N = Number(process.argv[2] ?? 40);
const dir = tmpDir('eg-bench-https-');
const pki = path.join(dir, 'pki');
const ca = await makeCa(pki, 'origin-ca');
const hosts = Array.from({ length: N }, (_, i) => `h${i}.bench.it`);
const leaf = await makeLeaf(pki, ca, 'origin', ['*.bench.it']);
const origin = await startOrigin({ key: leaf.keyPem, cert: leaf.certPem });
const ws = await workspace({
  dir,
  routes: { routes: [{ surface: 'bench', action: 'read', match: { scheme: 'https', host: '*.bench.it', port: origin.port, method: 'GET', path: '/**' }, authorize: 'none' }] },
  config: (c) => {
    c.tls.upstream_ca = [ca.certPath];
    c.receipts.durability = 'fsync';
    for (const h of [...hosts, 'warm.bench.it']) c.network.hosts[h] = '127.0.0.1';
  },
});
const gateCa = fs.readFileSync(ws.caCert, 'utf8');
const gate = await startGate(ws);

async function once(host: string): Promise<number> {
  const t0 = performance.now();
  const c = await connectThrough(ws.listenPort, `${host}:${origin.port}`);
  const t = await tlsOver(c.socket, { servername: host, ca: gateCa });
  t.write(`GET /x HTTP/1.1\r\nHost: ${host}:${origin.port}\r\nConnection: close\r\n\r\n`);
  const a = await readAnswer(t);
  if (a.status !== 200) throw new Error(`status ${a.status}`);
  return performance.now() - t0;
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const show = (name: string, xs: number[]) => console.log(`${name.padEnd(28)} n=${xs.length}  p50=${pct(xs, 50).toFixed(1)} ms  p90=${pct(xs, 90).toFixed(1)} ms  mean=${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} ms`);

try {
  await once('warm.bench.it'); // the gate's own first-request warm-up (JIT)
  const first: number[] = [];
  const cached: number[] = [];
  for (const h of hosts) {
    first.push(await once(h)); // new host: leaf minted
    cached.push(await once(h)); // same host again: leaf cached (upstream pool warm too)
  }
  show('new host (leaf minted)', first);
  show('cached host', cached);
  console.log(`difference p50: ${(pct(first, 50) - pct(cached, 50)).toFixed(1)} ms`);
} finally {
  await gate.stop();
  await origin.close();
}
