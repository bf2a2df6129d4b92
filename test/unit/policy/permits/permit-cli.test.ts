/**
 * `keys generate` and `permit issue` run as the CLI runs them (a child process), their
 * output checked with jose and with the gate's own permit checker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { createPermitChecker } from '../../../../policy/permits/check-permit.js';
import { createIssuerKeys } from '../../../../policy/permits/issuer-keys.js';
import { route } from '../route-factory.js';
import { normalized, tmpDir } from './permit-kit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;

describe('keys generate', () => {
  const dir = tmpDir('eg-keygen-');

  for (const [alg, kty, crv] of [['EdDSA', 'OKP', 'Ed25519'], ['ES256', 'EC', 'P-256']] as const) {
    it(`--alg ${alg}: private.jwk.json 0600 with kid/alg/use, jwks.json public and matching`, async () => {
      const out = path.join(dir, alg);
      const r = cli('keys', 'generate', '--out', out, '--kid', `kid-${alg}`, '--alg', alg);
      assert.equal(r.code, 0, r.stderr);
      const privPath = path.join(out, 'private.jwk.json');
      assert.equal(statSync(privPath).mode & 0o777, 0o600);
      const priv = readJson(privPath);
      assert.deepEqual([priv.kty, priv.crv, priv.kid, priv.alg, priv.use, typeof priv.d], [kty, crv, `kid-${alg}`, alg, 'sig', 'string']);
      const jwks = readJson(path.join(out, 'jwks.json')) as { keys: JWK[] };
      assert.equal(jwks.keys.length, 1);
      const pub = jwks.keys[0] as JWK;
      assert.equal(pub.kid, `kid-${alg}`);
      assert.ok(!('d' in pub), 'no private material in jwks.json');
      assert.equal(pub.x, priv.x);
    });
  }

  it('defaults: EdDSA, kid = the JWK thumbprint; refuses to overwrite without --force', () => {
    const out = path.join(dir, 'default');
    assert.equal(cli('keys', 'generate', '--out', out).code, 0);
    const priv = readJson(path.join(out, 'private.jwk.json'));
    assert.equal(priv.alg, 'EdDSA');
    const thumb = createHash('sha256').update(JSON.stringify({ crv: priv.crv, kty: priv.kty, x: priv.x })).digest('base64url');
    assert.equal(priv.kid, thumb);
    const again = cli('keys', 'generate', '--out', out);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; use --force/);
    assert.equal(readJson(path.join(out, 'private.jwk.json')).d, priv.d, 'the key was not replaced');
    assert.equal(cli('keys', 'generate', '--out', out, '--force').code, 0);
    assert.notEqual(readJson(path.join(out, 'private.jwk.json')).d, priv.d);
  });

  it('usage errors exit 2', () => {
    assert.equal(cli('keys', 'generate').code, 2);
    assert.equal(cli('keys', 'generate', '--out', path.join(dir, 'x'), '--alg', 'HS256').code, 2);
  });
});

describe('permit issue', () => {
  const dir = tmpDir('eg-issue-');
  const keyDir = path.join(dir, 'arbiter');
  assert.equal(cli('keys', 'generate', '--out', keyDir, '--kid', 'arbiter-ed-1').code, 0);
  const keyPath = path.join(keyDir, 'private.jwk.json');
  const jwksPath = path.join(keyDir, 'jwks.json');
  const base = ['permit', 'issue', '--key', keyPath, '--iss', 'https://arbiter.test', '--aud', 'gate-1', '--sub', 'agent:billing',
    '--surface', 'payments', '--action', 'charge.create', '--method', 'POST'];

  it('prints one compact JWS with typ, alg and kid from the JWK, verifying with jwks.json', async () => {
    const r = cli(...base, '--url', 'http://API.test:8080/v1/./charges', '--ttl', '90s', '--txn', 'run-1', '--idk', 'idem-1', '--jti', 'jti-fixed');
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'EdDSA', typ: 'permit+jwt', kid: 'arbiter-ed-1' });
    await compactVerify(token, createLocalJWKSet(readJson(jwksPath) as { keys: JWK[] }));
    const c = decodeJwt(token);
    assert.equal((c.exp as number) - (c.iat as number), 90);
    assert.deepEqual(
      { iss: c.iss, aud: c.aud, sub: c.sub, jti: c.jti, surface: c.surface, action: c.action, req: c.req, txn: c.txn, idk: c.idk },
      { iss: 'https://arbiter.test', aud: 'gate-1', sub: 'agent:billing', jti: 'jti-fixed', surface: 'payments', action: 'charge.create', req: { htm: 'POST', htu: 'http://api.test:8080/v1/charges' }, txn: 'run-1', idk: 'idem-1' },
    );
  });

  it('binds body and query so the gate checker accepts exactly that request', async () => {
    const body = path.join(dir, 'body.json');
    writeFileSync(body, '{"amount":100}');
    const r = cli(...base, '--url', 'https://api.test/v1/charges?currency=eur', '--body', body, '--aud', 'gate-2');
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const req = decodeJwt(token).req as Record<string, string>;
    assert.equal(req.bdh, createHash('sha256').update('{"amount":100}').digest('base64url'));
    assert.equal(req.qh, createHash('sha256').update('currency=eur').digest('base64url'));
    assert.deepEqual(decodeJwt(token).aud, ['gate-1', 'gate-2']);

    const keys = createIssuerKeys([{ iss: 'https://arbiter.test', jwks: jwksPath, algorithms: ['EdDSA'] }]);
    await keys.init();
    const checker = createPermitChecker({
      config: { header: 'Egress-Permit', issuers: [], clockSkewS: 5, maxTtlS: 600, replay: 'memory', gateId: 'gate-2', subject: 'agent:billing' },
      keys,
    });
    const r1 = route({ surface: 'payments', action: 'charge.create', bindBody: true, bindQuery: true, match: { host: 'api.test', path: '/v1/charges' } });
    const ok = await checker.check({ token, route: r1, request: normalized('POST', 'https://api.test/v1/charges?currency=eur'), bodySha256: req.bdh });
    assert.ok(ok.ok, ok.ok ? '' : ok.reason);
    const other = await checker.check({ token, route: r1, request: normalized('POST', 'https://api.test/v1/charges?currency=usd'), bodySha256: req.bdh });
    assert.equal(other.ok ? 'ok' : other.reason, 'PERMIT_BINDING_MISMATCH');
  });

  it('exits 2 on missing flags, a bad --ttl, a bad URL or a public key', () => {
    const none = cli('permit', 'issue');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /missing --key, --iss, --aud, --sub, --surface, --action, --method, --url/);
    assert.equal(cli(...base, '--url', 'http://api.test/', '--ttl', 'soon').code, 2);
    assert.equal(cli(...base, '--url', 'not a url').code, 2);
    assert.equal(cli(...base.map((a) => (a === keyPath ? jwksPath : a)), '--url', 'http://api.test/').code, 2);
  });
});
