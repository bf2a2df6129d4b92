import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseArbiterConfig } from '../../../arbiter/load-arbiter-config.js';
import { findGrant, RateLimiter, subjectFits } from '../../../arbiter/grants.js';
import { ConfigError } from '../../../policy/config-error.js';

const D = 'A'.repeat(43);
const base = `arbiter:
  iss: https://arbiter.example
  key: ./keys/arbiter.jwk.json
policy:
  routes: [./routes/]
approvers:
  - { name: alice, token_sha256: ${D} }
receipts: { dir: ./receipts, key: ./keys/r.jwk.json }
`;

function problems(text: string): string[] {
  try { parseArbiterConfig(text, '/etc/a/arbiter.yaml'); } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map((p) => `${p.line}:${p.col}: ${p.message}`);
  }
  assert.fail('should be invalid');
}

describe('parseArbiterConfig (SPEC §12)', () => {
  it('defaults: listen 127.0.0.1:8181, ttl 60s, max_wait 15m, break glass 2 approvals / 1h; paths relative to the file', () => {
    const c = parseArbiterConfig(`${base}grants:\n  - { subject: "agent:*", surface: s, action: a, gates: [g1], approve: human, approvals: 1, rate: 20/1h, ttl: 30s }\n`, '/etc/a/arbiter.yaml');
    assert.deepEqual(c.arbiter.listen, { host: '127.0.0.1', port: 8181 });
    assert.equal(c.arbiter.ttlS, 60);
    assert.equal(c.arbiter.key, '/etc/a/keys/arbiter.jwk.json');
    assert.equal(c.pending.maxWaitMs, 900_000);
    assert.deepEqual(c.breakGlass, { approvals: 2, maxTtlMs: 3_600_000 });
    assert.deepEqual(c.grants[0]?.rate, { count: 20, windowMs: 3_600_000 });
    assert.equal(c.grants[0]?.ttlS, 30);
    assert.ok(Object.isFrozen(c.grants));
  });

  it('unknown keys, bad digests, too many approvals, a non-loopback listen without tls are problems at file:line:col', () => {
    const ps = problems(`${base}grants:\n  - { subject: x, surface: s, action: a, gates: [g], approve: human, approvals: 2 }\ncallers:\n  - { subject: a, token_sha256: short }\nextra: 1\n`.replace('key: ./keys/arbiter.jwk.json', 'key: ./k.json\n  listen: 0.0.0.0:8181'));
    assert.ok(ps.some((p) => /unknown key "extra" in config/.test(p)), ps.join('\n'));
    assert.ok(ps.some((p) => /token_sha256" must be the base64url SHA-256/.test(p)), ps.join('\n'));
    assert.ok(ps.some((p) => /needs 2 distinct approvers, but only 1/.test(p)), ps.join('\n'));
    assert.ok(ps.some((p) => /^4:\d+: arbiter: "listen" binds 0.0.0.0/.test(p)), ps.join('\n'));
  });

  it('policy: one https bundle URL with bundle_keys and max_stale, as the gate reads it (SPEC §3, §12)', () => {
    const c = parseArbiterConfig(base.replace('  routes: [./routes/]', '  routes: [https://bundles.example/routes.jwt]\n  bundle_keys: ./keys/bundle.jwks.json\n  max_stale: 2m'), '/etc/a/arbiter.yaml');
    assert.deepEqual(c.policy, { routes: ['https://bundles.example/routes.jwt'], bundleKeys: '/etc/a/keys/bundle.jwks.json', maxStaleMs: 120_000 });
    assert.equal(parseArbiterConfig(base, '/etc/a/arbiter.yaml').policy.maxStaleMs, 300_000, 'max_stale defaults to 5m');
    assert.deepEqual(problems(base.replace('  routes: [./routes/]', '  routes: [https://bundles.example/routes.jwt]')), ['5:11: policy: a remote bundle needs "bundle_keys" (the JWKS its signature must verify with)']);
    assert.deepEqual(problems(base.replace('  routes: [./routes/]', '  routes: [http://bundles.example/r.jwt]\n  bundle_keys: ./k.json')), ['5:12: policy: a remote route-map bundle must be an https URL']);
    const mixed = problems(base.replace('  routes: [./routes/]', '  routes: [https://bundles.example/r.jwt, ./routes/]\n  bundle_keys: ./k.json'));
    assert.match(mixed.join('\n'), /may name one https URL of a signed bundle, or files and folders, not both/);
  });
});

describe('grants', () => {
  it('subject exact or trailing *, gate in gates, first match in config order', () => {
    assert.ok(subjectFits('agent:*', 'agent:x'));
    assert.ok(!subjectFits('agent:x', 'agent:xy'));
    const g = (id: string, subject: string) => ({ id, subject, surface: 's', action: 'a', gates: ['g'], approve: 'auto' as const, approvals: 1, where: { file: 'f', line: 1, col: 1 } });
    assert.equal(findGrant([g('1', 'agent:x'), g('2', 'agent:*')], { subject: 'agent:y', surface: 's', action: 'a', gate: 'g' })?.id, '2');
    assert.equal(findGrant([g('1', 'agent:*')], { subject: 'agent:y', surface: 's', action: 'a', gate: 'other' }), undefined);
  });

  it('rate limiter: N per window, a released slot frees, Retry-After counts to the oldest slot', () => {
    let now = 0;
    const r = new RateLimiter(() => now);
    const rate = { count: 2, windowMs: 10_000 };
    assert.ok(r.take('k', rate).ok);
    now = 1000;
    const second = r.take('k', rate);
    assert.ok(second.ok);
    const third = r.take('k', rate);
    assert.ok(!third.ok && third.retryAfterS === 9);
    if (second.ok) second.release();
    assert.ok(r.take('k', rate).ok);
  });
});
