/**
 * Prints the cost of CompiledPolicy.match() with 10 and with 10,000 routes over distinct
 * hosts. The index makes match() a Map lookup plus a scan of one host's bucket, so the two
 * numbers should be about the same (the residual difference is CPU cache misses over a larger
 * Map, not a scan: a linear matcher would be ~1000x slower). Each size runs twice; the first
 * round also warms the JIT. Run: `npx tsx test/bench/match-routes.ts`. Not a test:
 * timing is never asserted.
 */
import { performance } from 'node:perf_hooks';
import { compilePolicy } from '../../policy/compile-policy.js';
import { normalizeRequest } from '../../policy/normalize-request.js';
import type { NormalizedRequest, Route } from '../../policy/types.js';

function routesFor(n: number): Route[] {
  return Array.from({ length: n }, (_, i): Route => ({
    surface: `svc${i}`,
    action: 'call',
    match: { host: `api${i}.example.test`, methods: ['POST'], path: '/v1/items/{id}/**' },
    authorize: 'permit',
    singleUse: true,
    bindBody: false,
    bindQuery: false,
    mustEnforce: false,
    onSilence: 'terminate',
    pauseMaxMs: 0,
    tunnel: false,
    where: { file: 'bench.yaml', line: i + 1, col: 1 },
  }));
}

function nsPerMatch(n: number, iterations: number): number {
  const policy = compilePolicy({ routes: routesFor(n), exceptions: [], sources: [] }, { nowMs: 0 });
  const requests: NormalizedRequest[] = Array.from({ length: 1024 }, (_, i) =>
    normalizeRequest({ method: 'POST', target: `http://api${(i * 7919) % n}.example.test/v1/items/${i}/sub` }));
  let hits = 0;
  for (let i = 0; i < iterations / 10; i++) if (policy.match(requests[i & 1023]!)) hits++;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) if (policy.match(requests[i & 1023]!)) hits++;
  const ns = ((performance.now() - t0) * 1e6) / iterations;
  if (hits !== iterations + iterations / 10) throw new Error('a request did not match');
  return ns;
}

const iterations = 500_000;
for (const n of [10, 10_000, 10, 10_000]) console.log(`${String(n).padStart(6)} routes: ${nsPerMatch(n, iterations).toFixed(0)} ns per match()`);
