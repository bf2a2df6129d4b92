/**
 * Permits verified per second by the gate's checker (one core, sequential and 64 in flight),
 * with real Ed25519 and ES256 keys. Run: node --import tsx test/bench/permits.ts [seconds]
 */
import { createPermitChecker } from '../../policy/permits/check-permit.js';
import { createIssuerKeys } from '../../policy/permits/issuer-keys.js';
import { issuePermit } from '../../policy/permits/issue-permit.js';
import { route } from '../unit/policy/route-factory.js';
import { normalized, testKey, tmpDir, writeJwks } from '../unit/policy/permits/permit-kit.js';

const seconds = Number(process.argv[2] ?? 2);
const ISS = 'https://arbiter.bench';
const r = route({ surface: 'payments', action: 'charge.create', match: { host: 'api.test', path: '/v1/charges' } });
const request = normalized('POST', 'http://api.test/v1/charges');

for (const alg of ['EdDSA', 'ES256'] as const) {
  const k = testKey(alg, `bench-${alg}`);
  const keys = createIssuerKeys([{ iss: ISS, jwks: writeJwks(tmpDir('eg-bench-'), 'jwks.json', [k]), algorithms: [alg] }]);
  await keys.init();
  const checker = createPermitChecker({
    config: { header: 'Egress-Permit', issuers: [], clockSkewS: 5, maxTtlS: 600, replay: 'memory', gateId: 'gate-1' },
    keys,
  });
  const tokens = await Promise.all(Array.from({ length: 256 }, () => issuePermit({
    key: k.privateJwk, iss: ISS, aud: 'gate-1', sub: 'agent', surface: 'payments', action: 'charge.create',
    request: { method: 'POST', url: 'http://api.test/v1/charges' }, ttlS: 300,
  })));
  for (const concurrency of [1, 64]) {
    let n = 0;
    const until = performance.now() + seconds * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; performance.now() < until; i += concurrency) {
        const out = await checker.check({ token: tokens[i % tokens.length], route: r, request });
        if (!out.ok) throw new Error(`bench permit refused: ${out.reason}`);
        n++;
      }
    }));
    const rate = n / ((performance.now() - t0) / 1000);
    process.stdout.write(`${alg} concurrency ${concurrency}: ${Math.round(rate)} permits verified/s\n`);
  }
  await keys.close();
}
