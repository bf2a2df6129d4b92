/**
 * The CPU floor of a gate request on this machine: what the SPEC makes every request pay,
 * whatever the implementation. Prints µs per operation, measured with the gate's own code:
 * an Ed25519 receipt line (SPEC §9: a decision and an outcome line per forwarded request,
 * each its own compact JWS), the Ed25519 verification a permit needs (node:crypto, sync,
 * cached KeyObject: the cheapest way to do it in Node), and the gate's permit checker (jose)
 * per check, sequentially. Run: `node --import tsx test/bench/floor.ts [seconds]`. Not a
 * test: timing is never asserted; run.ts puts the numbers next to the targets.
 */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createReceiptSigner } from '../../receipts/receipt-codec.js';
import { createPermitChecker } from '../../policy/permits/check-permit.js';
import { createIssuerKeys } from '../../policy/permits/issuer-keys.js';
import { issuePermit } from '../../policy/permits/issue-permit.js';
import { route } from '../unit/policy/route-factory.js';
import { normalized, testKey, tmpDir, writeJwks } from '../unit/policy/permits/permit-kit.js';

const seconds = Number(process.argv[2] ?? 1);

function perOp(f: () => void): number {
  for (let i = 0; i < 200; i++) f();
  let n = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) { for (let i = 0; i < 50; i++) f(); n += 50; }
  return ((performance.now() - t0) * 1000) / n;
}

const signer = createReceiptSigner({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid: 'floor' });
const body = JSON.stringify({
  v: 1, id: '019ac0de-0000-7000-8000-000000000000', seq: 123456, prev: 'x'.repeat(43), ts: new Date().toISOString(), gate: 'gate-1', kind: 'decision',
  policy: { version: 'v'.repeat(12), digest: 'd'.repeat(43) }, request: { method: 'GET', url: 'http://127.0.0.1:8080/none/x', query_sha256: null, body_sha256: null, idempotency_key: null },
  subject: 'agent', surface: 'bench', action: 'none', decision: 'PERMIT', reason: 'NO_PERMIT_REQUIRED', enforced: true,
});
const signUs = perOp(() => signer.signJson(body));

const ed = generateKeyPairSync('ed25519');
const msg = Buffer.from(body);
const sig = sign(null, msg, ed.privateKey);
const verifyUs = perOp(() => { if (!verify(null, msg, ed.publicKey, sig)) throw new Error('bad signature'); });

const ISS = 'https://arbiter.bench';
const k = testKey('EdDSA', 'floor-EdDSA');
const keys = createIssuerKeys([{ iss: ISS, jwks: writeJwks(tmpDir('eg-floor-'), 'jwks.json', [k]), algorithms: ['EdDSA'] }]);
await keys.init();
const checker = createPermitChecker({ config: { header: 'Egress-Permit', issuers: [], clockSkewS: 5, maxTtlS: 600, replay: 'memory', gateId: 'gate-1' }, keys });
const r = route({ surface: 'bench', action: 'permit', match: { host: 'api.test', path: '/x' } });
const request = normalized('GET', 'http://api.test/x');
const tokens = await Promise.all(Array.from({ length: 64 }, () => issuePermit({
  key: k.privateJwk, iss: ISS, aud: 'gate-1', sub: 'agent', surface: 'bench', action: 'permit', request: { method: 'GET', url: 'http://api.test/x' }, ttlS: 300,
})));
for (let i = 0; i < 200; i++) await checker.check({ token: tokens[i % 64]!, route: r, request });
let n = 0;
const t0 = performance.now();
const c0 = process.cpuUsage();
while (performance.now() < t0 + seconds * 1000) { const out = await checker.check({ token: tokens[n % 64]!, route: r, request }); if (!out.ok) throw new Error(out.reason); n++; }
const c1 = process.cpuUsage(c0);
const checkCpuUs = (c1.user + c1.system) / n;

process.stdout.write(`${JSON.stringify({ signUs: +signUs.toFixed(1), verifyUs: +verifyUs.toFixed(1), permitCheckCpuUs: +checkCpuUs.toFixed(1) })}\n`);
