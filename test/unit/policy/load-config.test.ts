import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, type ConfigProblem } from '../../../policy/config-error.js';
import { loadConfig, parseConfig } from '../../../policy/load-config.js';

const dir = fileURLToPath(new URL('../../fixtures/policy/config/', import.meta.url));
const fixture = (name: string): string => path.join(dir, name);

function problems(name: string): ConfigProblem[] {
  const file = fixture(name);
  try {
    parseConfig(readFileSync(file, 'utf8'), file, { hostname: 'test-host' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.code, 'ERR_CONFIG_INVALID');
    for (const p of e.problems) assert.equal(p.file, file);
    return e.problems;
  }
  assert.fail(`${name} should be invalid`);
}

/** Asserts one problem at line:col whose message includes `text`. */
function expectProblem(ps: ConfigProblem[], line: number, col: number, text: string): void {
  const hit = ps.find((p) => p.line === line && p.col === col && p.message.includes(text));
  assert.ok(hit, `no problem at ${line}:${col} with ${JSON.stringify(text)}; got:\n${ps.map((p) => `${p.line}:${p.col}: ${p.message}`).join('\n')}`);
}

describe('parseConfig', () => {
  it('permits.request_url: kept when an http(s) URL, a problem at the value otherwise', () => {
    const ok = parseConfig('policy:\n  routes: ./r/\npermits:\n  request_url: http://127.0.0.1:8181/v1/permits\n', '/e/c.yaml', { hostname: 'h' });
    assert.equal(ok.permits.requestUrl, 'http://127.0.0.1:8181/v1/permits');
    assert.throws(() => parseConfig('policy:\n  routes: ./r/\npermits:\n  request_url: ftp://x/\n', '/e/c.yaml', { hostname: 'h' }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.line === 4 && p.message.includes('"request_url" must be an http or https URL')));
  });

  it('gate.admin_token_file: required (at "admin") when the admin listener is not loopback; kept as an absolute path', () => {
    const text = (admin: string, token = '') => `gate:\n  admin: ${admin}\n${token}policy:\n  routes: ./r/\n`;
    assert.throws(() => parseConfig(text('0.0.0.0:3129'), '/e/c.yaml', { hostname: 'h' }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.line === 2 && p.col === 10 && p.message.includes('set admin_token_file')));
    assert.throws(() => parseConfig(text('192.0.2.2:3129'), '/e/c.yaml', { hostname: 'h' }), ConfigError);
    assert.equal(parseConfig(text('127.0.0.1:3129'), '/e/c.yaml', { hostname: 'h' }).gate.adminTokenFile, undefined);
    assert.equal(parseConfig(text('"[::1]:3129"'), '/e/c.yaml', { hostname: 'h' }).gate.adminTokenFile, undefined);
    const c = parseConfig(text('0.0.0.0:3129', '  admin_token_file: ./keys/admin.token\n'), '/e/c.yaml', { hostname: 'h' });
    assert.equal(c.gate.adminTokenFile, '/e/keys/admin.token');
    assert.throws(() => parseConfig(text('0.0.0.0:3129', '  admin_token_file: [a]\n'), '/e/c.yaml', { hostname: 'h' }),
      (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.line === 3 && p.message.includes('admin_token_file')));
  });

  it('applies every default of SPEC §3', () => {
    const c = parseConfig('policy:\n  routes: ./routes/\n', '/etc/eg/egress-gate.yaml', { hostname: 'pod-1' });
    assert.deepEqual(c.gate, { id: 'pod-1', listen: { host: '127.0.0.1', port: 3128 }, admin: { host: '127.0.0.1', port: 3129 }, allowRemoteClients: false, mode: 'enforce' });
    assert.deepEqual(c.policy, { routes: ['/etc/eg/routes'], maxStaleMs: 300_000 });
    assert.deepEqual(c.permits, { header: 'Egress-Permit', issuers: [], clockSkewS: 5, maxTtlS: 600, replay: 'memory' });
    assert.equal(c.decider, undefined);
    assert.deepEqual(c.secrets, {});
    assert.deepEqual(c.receipts, { dir: '/etc/eg/receipts', key: '/etc/eg/keys/receipts.private.jwk.json', durability: 'fsync', rotateBytes: 64 * 1024 * 1024, origin: 'egress-gate/pod-1' });
    assert.deepEqual(c.tls, { upstreamCa: [] });
    assert.deepEqual(c.network, { blockPrivate: true, allowCidrs: [], hosts: {} });
    assert.deepEqual(c.limits, { maxBoundBody: 32 * 1024 * 1024, headerTimeoutMs: 10_000, upstreamTimeoutMs: 30_000 }, 'max_bound_body defaults to 32 MiB: LLM request bodies');
    assert.equal(c.source, '/etc/eg/egress-gate.yaml');
    assert.equal(c.baseDir, '/etc/eg');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.gate.listen), 'config is frozen');
  });

  it('reads every key, resolving relative paths against the config file', async () => {
    const c = await loadConfig(fixture('full.yaml'));
    assert.deepEqual(c.gate, { id: 'agent-7f3c', subject: 'agent:billing', listen: { host: '::1', port: 4128 }, admin: { host: 'localhost', port: 4129 }, allowRemoteClients: false, mode: 'report' });
    assert.deepEqual(c.policy, { routes: [path.join(dir, 'routes'), '/etc/egress/extra.yaml'], maxStaleMs: 120_000 });
    assert.deepEqual(c.permits, {
      header: 'X-Permit',
      issuers: [
        { iss: 'https://arbiter.example', jwks: path.join(dir, 'keys/arbiter.jwks.json'), algorithms: ['EdDSA'] },
        { iss: 'https://other.example', jwks: 'https://other.example/.well-known/jwks.json', algorithms: ['EdDSA', 'ES256'] },
      ],
      clockSkewS: 10, maxTtlS: 3600, replay: 'redis://127.0.0.1:6379/2',
    });
    assert.deepEqual(c.secrets, { dir: path.join(dir, 'secrets') });
    assert.deepEqual(c.decider, { url: 'http://127.0.0.1:8181/v1/data/egress/decision', timeoutMs: 250 });
    assert.deepEqual(c.receipts, { dir: '/var/lib/egress/receipts', key: path.join(dir, 'keys/receipts.private.jwk.json'), durability: 'none', rotateBytes: 8192, origin: 'example.com/egress/agent-7f3c' });
    assert.deepEqual(c.tls, { caCert: path.join(dir, 'certs/ca.pem'), caKey: path.join(dir, 'certs/ca-key.pem'), upstreamCa: [path.join(dir, 'certs/origin.pem')] });
    assert.deepEqual(c.network, { blockPrivate: false, allowCidrs: ['10.1.0.0/16', 'fd00::/8'], hosts: { 'api.test': '127.0.0.1' } });
    assert.deepEqual(c.limits, { maxBoundBody: 2048, headerTimeoutMs: 250, upstreamTimeoutMs: 60_000 });
    assert.equal(c.digest, createHash('sha256').update(readFileSync(fixture('full.yaml'))).digest('base64url'));
  });

  it('reports unknown keys at the key, in every section', () => {
    const ps = problems('unknown-keys.yaml');
    expectProblem(ps, 3, 3, 'unknown key "listen_addr" in gate');
    expectProblem(ps, 6, 3, 'unknown key "refresh" in policy');
    expectProblem(ps, 11, 7, 'unknown key "alg" in permits.issuers[]');
    expectProblem(ps, 12, 1, 'unknown key "logging" in config');
    assert.equal(ps.length, 4);
  });

  it('reports every bad value at its position, in file order', () => {
    const ps = problems('bad-values.yaml');
    expectProblem(ps, 2, 11, 'not a loopback address');
    expectProblem(ps, 3, 10, '"admin" must be host:port');
    expectProblem(ps, 4, 9, '"mode" must be one of enforce | report');
    expectProblem(ps, 7, 14, '"max_stale" must be a duration');
    expectProblem(ps, 11, 13, 'must be a file or an https URL');
    expectProblem(ps, 12, 27, 'algorithm "HS256" is not allowed');
    expectProblem(ps, 12, 34, 'algorithm "none" is not allowed');
    expectProblem(ps, 12, 40, 'algorithm "RS256" is not allowed');
    expectProblem(ps, 13, 15, '"clock_skew" must be a duration');
    expectProblem(ps, 14, 11, '"replay" must be memory or a redis://');
    expectProblem(ps, 16, 3, 'decider: "url" is required');
    expectProblem(ps, 18, 15, '"durability" must be one of fsync | none');
    expectProblem(ps, 19, 17, '"rotate_bytes" must be a size');
    expectProblem(ps, 21, 12, '"ca_cert" and "ca_key" go together');
    expectProblem(ps, 23, 18, '"block_private" must be true or false');
    expectProblem(ps, 24, 17, 'is not a CIDR');
    expectProblem(ps, 25, 19, '"a.test" must map to an IP address');
    expectProblem(ps, 27, 19, '"max_bound_body" must be a size');
    expectProblem(ps, 28, 19, '"header_timeout" must be a duration');
    const order = ps.map((p) => p.line * 1000 + p.col);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  it('allows a non-loopback listener only with allow_remote_clients', () => {
    const c = parseConfig(readFileSync(fixture('remote-clients.yaml'), 'utf8'), fixture('remote-clients.yaml'));
    assert.deepEqual(c.gate.listen, { host: '0.0.0.0', port: 3128 });
    assert.equal(c.gate.allowRemoteClients, true);
  });

  it('keeps one https bundle URL as a URL, and requires bundle_keys with it', () => {
    const c = parseConfig(readFileSync(fixture('remote-ok.yaml'), 'utf8'), fixture('remote-ok.yaml'));
    assert.deepEqual(c.policy.routes, ['https://policy.example/bundle.jws']);
    assert.equal(c.policy.bundleKeys, path.join(dir, 'keys/policy.jwks.json'));
    expectProblem(problems('remote.yaml'), 2, 11, 'needs "bundle_keys"');
    expectProblem(problems('remote-mixed.yaml'), 2, 11, 'not both or several URLs');
  });

  it('requires policy.routes', () => {
    assert.throws(() => parseConfig('gate: {id: a}\n', '/x/c.yaml'), (e: ConfigError) => e.problems.some((p) => p.line === 1 && p.message.includes('"policy"')));
    assert.throws(() => parseConfig('policy: {max_stale: 1m}\n', '/x/c.yaml'), (e: ConfigError) => e.problems.some((p) => p.line === 1 && p.col === 9 && p.message.includes('"routes" is required')));
  });

  it('turns YAML syntax errors and non-mappings into positioned problems', () => {
    assert.throws(() => parseConfig('gate:\n  id: [a\npolicy: {}\n', '/x/c.yaml'), (e: ConfigError) => e.problems[0]?.file === '/x/c.yaml' && (e.problems[0]?.line ?? 0) >= 2);
    assert.throws(() => parseConfig('gate: {id: a, id: b}\npolicy: {routes: r}\n', '/x/c.yaml'), (e: ConfigError) => e.problems[0]?.line === 1 && /unique/i.test(e.problems[0]?.message ?? ''));
    assert.throws(() => parseConfig('- a\n- b\n', '/x/c.yaml'), (e: ConfigError) => e.problems[0]?.line === 1 && (e.problems[0]?.message ?? '').includes('config must be a mapping'));
  });

  it('reports a missing file without a position', async () => {
    await assert.rejects(loadConfig(fixture('nope.yaml')), (e: ConfigError) => e.problems[0]?.line === 0 && (e.problems[0]?.message ?? '').includes('ENOENT'));
  });
});
