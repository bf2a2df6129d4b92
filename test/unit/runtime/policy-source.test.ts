/**
 * PolicySource, shared by the gate and the arbiter, with a remote bundle: ETag polling,
 * refused reloads that keep the last good version, staleness past max_stale (with an
 * injected clock); and file reloads on change. Verification itself: policy/bundle/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { bundlePollMs, PolicySource, type PolicySourceOptions } from '../../../runtime/policy-source.js';
import { ConfigError } from '../../../policy/config-error.js';
import type { CompiledPolicy } from '../../../policy/types.js';
import { genKey, tmpDir } from '../../kit/keys.js';
import { bundleHandler, eventually, makeTlsFixture, signBundle, switchable, type Switchable, type TlsFixture } from '../../kit/servers.js';

const V1 = 'routes:\n  - { surface: s, action: one, match: { host: a.test, method: GET, path: /one }, authorize: none }\n';
const V2 = 'routes:\n  - { surface: s, action: two, match: { host: a.test, method: GET, path: /two }, authorize: none }\n';

function config(o: { routes: string[]; bundleKeys?: string; maxStaleMs?: number }): Pick<PolicySourceOptions, 'settings' | 'configFile'> {
  return { configFile: 'test', settings: { routes: o.routes, bundleKeys: o.bundleKeys, maxStaleMs: o.maxStaleMs ?? 60_000 } };
}

const actionOf = (src: PolicySource): string | undefined => src.policy?.routes[0]?.action;

describe('PolicySource with a remote bundle', () => {
  const key = genKey('EdDSA', 'bundle-k');
  const intruder = genKey('EdDSA', 'bundle-k');
  let tls: TlsFixture;
  let server: Switchable;
  let token = '';
  let keysPath: string;

  before(async () => {
    const dir = tmpDir();
    tls = makeTlsFixture(path.join(dir, 'tls'));
    keysPath = path.join(dir, 'bundle.jwks.json');
    fs.writeFileSync(keysPath, JSON.stringify({ keys: [key.publicJwk] }));
    server = await switchable(bundleHandler(() => token), tls);
  });
  after(() => server.close());

  it('applies, polls with ETag, refuses a bad signature once, goes stale past max_stale, recovers', async () => {
    let now = 1_000_000;
    const applied: CompiledPolicy[] = [];
    const refused: string[] = [];
    const src = new PolicySource({
      ...config({ routes: [server.url('/bundle')], bundleKeys: keysPath, maxStaleMs: 10_000 }), clock: () => now, upstreamCa: [tls.caPem],
      onApplied: (p) => { applied.push(p); }, onRefused: (e) => refused.push(e),
    });
    try {
      token = signBundle(key, V1);
      const p1 = await src.start();
      assert.ok(p1);
      assert.equal(applied.length, 1);
      assert.equal(src.policy?.routes[0]?.action, 'one');
      assert.equal(src.policy?.routes[0]?.where.file, server.url('/bundle'));
      assert.deepEqual({ ...src.status(), refused: null }, { source: 'bundle', loaded: true, fresh: true, version: p1.version, digest: p1.digest, stale_seconds: 0, refused: null, unreachable: null });

      now += 3000;
      await src.reload();
      assert.equal(server.hits.at(-1)?.headers['if-none-match'] !== undefined, true, 'conditional GET');
      assert.equal(applied.length, 1, '304: nothing new applied');
      assert.equal(src.staleSeconds(), 0, 'a 304 confirms the bundle');

      token = signBundle(intruder, V2);
      await src.reload();
      await src.reload();
      assert.equal(refused.length, 1, 'the same bad bundle is refused once');
      assert.match(refused[0]!, /does not verify/);
      assert.equal(src.policy?.routes[0]?.action, 'one', 'the last good version serves');
      assert.match(src.status().refused?.error ?? '', /does not verify/);

      token = signBundle(key, 'routes: [ {');
      await src.reload();
      assert.equal(refused.length, 2, 'invalid YAML in a good signature is refused too');
      assert.equal(src.policy?.routes[0]?.action, 'one');

      await server.down();
      now += 5000;
      await src.reload();
      assert.match(src.status().unreachable?.error ?? '', /could not be fetched/);
      assert.ok(src.policy, 'within max_stale the last good serves');
      assert.equal(src.staleSeconds(), 5);
      now += 5001;
      assert.equal(src.policy, undefined, 'past max_stale nothing serves');
      assert.equal(src.status().fresh, false);
      assert.equal(src.status().loaded, true);

      token = signBundle(key, V2);
      await server.up();
      await src.reload();
      assert.equal(actionOf(src), 'two');
      assert.equal(applied.length, 2);
      assert.equal(src.status().refused, null);
      assert.equal(src.status().unreachable, null);
    } finally { src.close(); }
  });

  it('starts without a reachable bundle: nothing loaded, then loads on a later poll', async () => {
    await server.down();
    const src = new PolicySource({ ...config({ routes: [server.url('/bundle')], bundleKeys: keysPath }), upstreamCa: [tls.caPem] });
    try {
      assert.equal(await src.start(), undefined);
      assert.equal(src.policy, undefined);
      assert.equal(src.status().loaded, false);
      token = signBundle(key, V1);
      await server.up();
      await src.reload();
      assert.equal(actionOf(src), 'one');
    } finally { src.close(); }
  });

  it('does not trust the bundle server without tls.upstream_ca', async () => {
    const src = new PolicySource({ ...config({ routes: [server.url('/bundle')], bundleKeys: keysPath }) });
    try {
      assert.equal(await src.start(), undefined);
      assert.match(src.status().unreachable?.error ?? '', /could not be fetched/);
    } finally { src.close(); }
  });

  it('polls at a fifth of max_stale, between 250 ms and 10 s', () => {
    assert.equal(bundlePollMs(300_000), 10_000);
    assert.equal(bundlePollMs(2_000), 400);
    assert.equal(bundlePollMs(500), 250);
  });
});

describe('PolicySource with files', () => {
  it('refuses an invalid new version, keeps the last good, applies the fix on change', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'routes.yaml');
    fs.writeFileSync(file, V1);
    const applied: string[] = [];
    const refused: string[] = [];
    const src = new PolicySource({ ...config({ routes: [dir] }), onApplied: (p) => { applied.push(p.routes[0]!.action); }, onRefused: (e) => refused.push(e) });
    try {
      await src.start();
      await src.watch();
      fs.writeFileSync(file, 'routes: [ {\n');
      await eventually(() => refused.length === 1, 5000, 'refused reload');
      assert.match(refused[0]!, /routes\.yaml:\d+:\d+/);
      assert.equal(src.policy?.routes[0]?.action, 'one');
      assert.ok(src.status().refused);
      assert.equal(src.status().fresh, true);
      fs.writeFileSync(file, V2);
      await eventually(() => applied.length === 2, 5000, 'applied reload');
      assert.deepEqual(applied, ['one', 'two']);
      assert.equal(src.status().refused, null);
    } finally { src.close(); }
  });

  it('an invalid first version refuses the start', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'r.yaml'), 'routes: 3\n');
    await assert.rejects(new PolicySource({ ...config({ routes: [dir] }) }).start(), ConfigError);
  });
});
