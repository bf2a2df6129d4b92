/**
 * The CPU floor of a gate request on this machine: what the SPEC makes every request pay,
 * whatever the implementation. Prints µs per operation, measured with the gate's own code:
 * the Ed25519 checkpoint signature that seals each commit of the receipt log (SPEC §9: one per
 * commit, shared by all its lines), the verification a permit needs (node:crypto, sync, cached
 * KeyObject: the cheapest way to do it in Node) for an Ed25519 and a P-256 issuer key, and the
 * gate's permit checker (jose) per check, sequentially, for an EdDSA and an ES256 issuer, and
 * jose's compactVerify alone (with a CryptoKey and with a cached KeyObject) beside node:crypto.
 * Run: `node --import tsx test/bench/floor.ts [seconds]`. Not a test: timing is never
 * asserted; run.ts puts the numbers next to the targets.
 */
import { generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { performance } from 'node:perf_hooks';
import { signCheckpoint } from '../../receipts/tlog/checkpoint.js';
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

const receiptKey = generateKeyPairSync('ed25519').privateKey;
const root = Buffer.alloc(32, 7);
const signUs = perOp(() => signCheckpoint({ origin: 'egress-gate/gate-1', size: 123456, root }, 'egress-gate/gate-1', receiptKey));
const body = JSON.stringify({
  v: 1, id: '019ac0de-0000-7000-8000-000000000000', seq: 123456, prev: 'x'.repeat(43), ts: new Date().toISOString(), gate: 'gate-1', kind: 'decision',
  policy: { version: 'v'.repeat(12), digest: 'd'.repeat(43) }, request: { method: 'GET', url: 'http://127.0.0.1:8080/none/x', query_sha256: null, body_sha256: null, idempotency_key: null },
  subject: 'agent', surface: 'bench', action: 'none', decision: 'PERMIT', reason: 'NO_PERMIT_REQUIRED', enforced: true,
});

const msg = Buffer.from(body);
function verifyCost(type: 'ed25519' | 'ec'): number {
  const k = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = type === 'ed25519' ? null : 'sha256';
  const sig = sign(alg, msg, { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
  return perOp(() => { if (!verify(alg, msg, { key: k.publicKey, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('bad signature'); });
}
const verifyUs = verifyCost('ed25519');
const verifyEs256Us = verifyCost('ec');

const ISS = 'https://arbiter.bench';

/** CPU µs per permit check through the gate's checker (jose), one check at a time. */
async function permitCheckCost(alg: 'EdDSA' | 'ES256'): Promise<number> {
  const k = testKey(alg, `floor-${alg}`);
  const keys = createIssuerKeys([{ iss: ISS, jwks: writeJwks(tmpDir('eg-floor-'), 'jwks.json', [k]), algorithms: [alg] }]);
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
  return (c1.user + c1.system) / n;
}
/**
 * jose's compactVerify alone (jose 6 verifies through WebCrypto only), with the CryptoKey the
 * gate imports and with a cached KeyObject, against node:crypto's one-shot verify: what the
 * WebCrypto plumbing costs per permit.
 */
async function joseVerifyCost(alg: 'EdDSA' | 'ES256'): Promise<{ cryptoKey: number; keyObject: number; node: number }> {
  const k = testKey(alg, `jose-${alg}`);
  const token = await issuePermit({ key: k.privateJwk, iss: ISS, aud: 'gate-1', sub: 'agent', surface: 'bench', action: 'permit', request: { method: 'GET', url: 'http://api.test/x' }, ttlS: 300 });
  const ck = (await importJWK({ ...k.publicJwk, alg }, alg)) as CryptoKey;
  const ko = KeyObject.from(ck);
  const [h, p, sg] = token.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const sigBytes = Buffer.from(sg, 'base64url');
  const cpu = async (f: () => Promise<unknown>) => {
    for (let i = 0; i < 200; i++) await f();
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    while (performance.now() < t0 + seconds * 1000) { await f(); n++; }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  return {
    cryptoKey: await cpu(() => compactVerify(token, ck, { algorithms: [alg] })),
    keyObject: await cpu(() => compactVerify(token, ko, { algorithms: [alg] })),
    node: await cpu(async () => { if (!verify(alg === 'EdDSA' ? null : 'sha256', input, { key: ko, dsaEncoding: 'ieee-p1363' }, sigBytes)) throw new Error('bad signature'); }),
  };
}
const joseEd = await joseVerifyCost('EdDSA');
const joseEs = await joseVerifyCost('ES256');
const permitCheckCpuUs = await permitCheckCost('EdDSA');
const permitCheckEs256CpuUs = await permitCheckCost('ES256');

const r1 = (v: number) => +v.toFixed(1);
process.stdout.write(`${JSON.stringify({ signUs: r1(signUs), verifyUs: r1(verifyUs), verifyEs256Us: r1(verifyEs256Us), permitCheckCpuUs: r1(permitCheckCpuUs), permitCheckEs256CpuUs: r1(permitCheckEs256CpuUs),
  joseVerify: { EdDSA: { cryptoKey: r1(joseEd.cryptoKey), keyObject: r1(joseEd.keyObject), nodeCrypto: r1(joseEd.node) }, ES256: { cryptoKey: r1(joseEs.cryptoKey), keyObject: r1(joseEs.keyObject), nodeCrypto: r1(joseEs.node) } } })}\n`);
