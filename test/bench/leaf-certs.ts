/**
 * Cost of leaf certificates: `node --import tsx test/bench/leaf-certs.ts [N]`.
 * Prints the first mint (includes the one-time leaf key generation), the mean of N more
 * first mints for distinct hosts, and the mean cached lookup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { initCa, loadCa } from '../../certs/ca.js';
import { createLeafIssuer } from '../../certs/leaf-issuer.js';

const n = Number(process.argv[2] ?? 200);
const dir = await mkdtemp(path.join(tmpdir(), 'eg-bench-'));
try {
  const { certPath, keyPath } = await initCa(dir);
  const leafs = createLeafIssuer(await loadCa(certPath, keyPath), { maxEntries: n + 10 });

  let t = performance.now();
  await leafs.secureContextFor('first.bench.test');
  const first = performance.now() - t;

  t = performance.now();
  for (let i = 0; i < n; i++) await leafs.secureContextFor(`host-${i}.bench.test`);
  const mint = (performance.now() - t) / n;

  const rounds = n * 50;
  t = performance.now();
  for (let i = 0; i < rounds; i++) await leafs.secureContextFor(`host-${i % n}.bench.test`);
  const cached = (performance.now() - t) / rounds;

  process.stdout.write(`first mint (with leaf key generation): ${first.toFixed(2)} ms\n`);
  process.stdout.write(`first mint per new host (mean of ${n}): ${mint.toFixed(3)} ms\n`);
  process.stdout.write(`cached lookup (mean of ${rounds}): ${(cached * 1000).toFixed(2)} µs\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
