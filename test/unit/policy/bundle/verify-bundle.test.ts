/**
 * Route-map bundle verification (SPEC §5): a good bundle's YAML, and refusals — another key,
 * a wrong or missing typ, HMAC and `none`, a tampered payload, garbage — each ERR_BUNDLE_INVALID;
 * `bundle_keys` must be a readable JWKS with keys.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readBundleKeys } from '../../../../policy/bundle/read-bundle-keys.js';
import { BundleError, bundleKeys, verifyBundle } from '../../../../policy/bundle/verify-bundle.js';
import { ConfigError } from '../../../../policy/config-error.js';
import { genKey, tmpDir } from '../../../kit/keys.js';
import { signBundle } from '../../../kit/servers.js';

const V1 = 'routes:\n  - { surface: s, action: one, match: { host: a.test, method: GET, path: /one }, authorize: none }\n';
const V2 = 'routes:\n  - { surface: s, action: two, match: { host: a.test, method: GET, path: /two }, authorize: none }\n';

async function rejectsCode(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => e instanceof BundleError && e.code === code);
}

describe('verifyBundle', () => {
  const key = genKey('EdDSA', 'bundle-1');
  const other = genKey('EdDSA', 'bundle-1');
  const es = genKey('ES256', 'bundle-es');
  const keys = bundleKeys({ keys: [key.publicJwk as never, es.publicJwk as never] });
  const verify = (token: string) => verifyBundle(token, keys);

  it('returns the YAML of a good bundle (EdDSA and ES256)', async () => {
    assert.equal(await verify(signBundle(key, V1)), V1);
    assert.equal(await verify(signBundle(es, V2)), V2);
  });
  it('refuses a bundle signed by another key', () => rejectsCode(verify(signBundle(other, V1)), 'ERR_BUNDLE_INVALID'));
  it('refuses a wrong typ, and none', async () => {
    await rejectsCode(verify(signBundle(key, V1, { typ: 'permit+jwt' })), 'ERR_BUNDLE_INVALID');
    await rejectsCode(verify(signBundle(key, V1, { typ: undefined })), 'ERR_BUNDLE_INVALID');
  });
  it('refuses HS256 and alg none', async () => {
    const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'routemap+jwt', kid: 'bundle-1' })).toString('base64url');
    const p = Buffer.from(V1).toString('base64url');
    const mac = crypto.createHmac('sha256', 'secret').update(`${h}.${p}`).digest('base64url');
    await rejectsCode(verify(`${h}.${p}.${mac}`), 'ERR_BUNDLE_INVALID');
    const n = Buffer.from(JSON.stringify({ alg: 'none', typ: 'routemap+jwt' })).toString('base64url');
    await rejectsCode(verify(`${n}.${p}.`), 'ERR_BUNDLE_INVALID');
  });
  it('refuses a tampered payload and garbage', async () => {
    const t = signBundle(key, V1).split('.');
    await rejectsCode(verify(`${t[0]}.${Buffer.from(V2).toString('base64url')}.${t[2]}`), 'ERR_BUNDLE_INVALID');
    await rejectsCode(verify('not a jws'), 'ERR_BUNDLE_INVALID');
  });
  it('bundle_keys must be a readable JWKS with keys', async () => {
    const dir = tmpDir();
    await assert.rejects(readBundleKeys(path.join(dir, 'missing.json')), ConfigError);
    fs.writeFileSync(path.join(dir, 'empty.json'), '{"keys":[]}');
    await assert.rejects(readBundleKeys(path.join(dir, 'empty.json')), ConfigError);
  });
});
