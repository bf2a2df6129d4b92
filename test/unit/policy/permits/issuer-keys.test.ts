/**
 * Issuer keys from files and from an https JWKS served by a real loopback server whose
 * certificate is signed by a test CA made with openssl (trusted through the `ca` option).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createIssuerKeys } from '../../../../policy/permits/issuer-keys.js';
import { ISS, testKey, tmpDir, writeJwks, type TestKey } from './permit-kit.js';

const ed1 = testKey('EdDSA', 'ed-1');
const ed2 = testKey('EdDSA', 'ed-2');
const es1 = testKey('ES256', 'es-1');

describe('issuer keys from a JWKS file', () => {
  const dir = tmpDir('eg-keys-');

  it('imports only keys whose kty/crv fit the issuer algorithms, once, at init', async () => {
    const file = writeJwks(dir, 'mixed.jwks.json', [ed1, es1]);
    const keys = createIssuerKeys([{ iss: ISS, jwks: file, algorithms: ['ES256'] }]);
    assert.equal(keys.ready(), false, 'not ready before init');
    await keys.init();
    assert.equal(keys.ready(), true);
    writeFileSync(file, 'not json any more');
    const es = await keys.lookup(ISS, 'es-1', 'ES256');
    assert.equal(es.found, true, 'the file is not read again per request');
    assert.deepEqual(await keys.lookup(ISS, 'ed-1', 'EdDSA'), { found: false, why: 'unknown-kid', detail: `issuer ${ISS} has no key ed-1` });
    assert.equal((await keys.lookup(ISS, 'es-1', 'EdDSA')).found, false);
  });

  it('refuses at init a file that cannot serve: unreadable, not a JWKS, or no fitting key', async () => {
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"nokeys": 1}');
    for (const [jwks, algorithms] of [[path.join(dir, 'missing.json'), ['EdDSA']], [bad, ['EdDSA']], [writeJwks(dir, 'ed.jwks.json', [ed1]), ['ES256']]] as const) {
      const keys = createIssuerKeys([{ iss: ISS, jwks, algorithms: [...algorithms] }]);
      await assert.rejects(keys.init(), { code: 'ERR_ISSUER_KEYS_INVALID' });
      assert.equal(keys.ready(), false);
    }
  });

  it('never imports private material from a JWKS that carries it', async () => {
    const file = path.join(dir, 'private.jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [ed1.privateJwk] }));
    const keys = createIssuerKeys([{ iss: ISS, jwks: file, algorithms: ['EdDSA'] }]);
    await keys.init();
    const found = await keys.lookup(ISS, 'ed-1', 'EdDSA');
    assert.ok(found.found && found.key.type === 'public');
  });
});

describe('issuer keys from an https JWKS', () => {
  let server: Server;
  let url = '';
  let ca = '';
  let served: TestKey[] = [ed1];
  let hits = 0;
  let status = 200;

  before(async () => {
    const dir = tmpDir('eg-jwks-tls-');
    const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test jwks CA');
    o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=localhost');
    writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    o('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '1', '-extfile', 'ext.cnf');
    ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    server = createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) => {
      hits++;
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: served.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('is not trusted without the extra CA: the issuer stays unready', async () => {
    const errors: string[] = [];
    const keys = createIssuerKeys([{ iss: ISS, jwks: url, algorithms: ['EdDSA'] }], { onFetchError: (_i, e) => errors.push(e.message) });
    await keys.init();
    assert.equal(keys.ready(), false);
    assert.equal(errors.length, 1);
    assert.equal((await keys.lookup(ISS, 'ed-1', 'EdDSA')).found, false);
    await keys.close();
  });

  it('fetches at init, refetches once on an unknown kid, then rate-limits refetches', async () => {
    let now = 1_000_000;
    served = [ed1];
    hits = 0;
    const keys = createIssuerKeys([{ iss: ISS, jwks: url, algorithms: ['EdDSA'] }], { ca: [ca], clock: () => now, refetchIntervalMs: 10_000 });
    await keys.init();
    assert.equal(keys.ready(), true);
    assert.equal(hits, 1);
    assert.equal((await keys.lookup(ISS, 'ed-1', 'EdDSA')).found, true);
    assert.equal(hits, 1, 'a known kid is served from the cache');

    served = [ed1, ed2];
    now += 10_000;
    assert.equal((await keys.lookup(ISS, 'ed-2', 'EdDSA')).found, true, 'a rotated-in key is found after one refetch');
    assert.equal(hits, 2);

    now += 1000;
    const unknown = await Promise.all(Array.from({ length: 5 }, () => keys.lookup(ISS, 'nope', 'EdDSA')));
    assert.ok(unknown.every((u) => !u.found && u.why === 'unknown-kid'));
    assert.equal(hits, 2, 'no refetch within 10 s of the last one');
    now += 10_000;
    await Promise.all(Array.from({ length: 5 }, () => keys.lookup(ISS, 'nope', 'EdDSA')));
    assert.equal(hits, 3, 'concurrent lookups of an unknown kid share one refetch');
    await keys.close();
  });

  it('keeps the last good keys when a refetch fails', async () => {
    let now = 5_000_000;
    served = [ed1];
    const keys = createIssuerKeys([{ iss: ISS, jwks: url, algorithms: ['EdDSA'] }], { ca: [ca], clock: () => now });
    await keys.init();
    status = 500;
    now += 60_000;
    assert.deepEqual((await keys.lookup(ISS, 'ed-9', 'EdDSA')).found, false);
    assert.equal((await keys.lookup(ISS, 'ed-1', 'EdDSA')).found, true);
    assert.equal(keys.ready(), true);
    assert.match(keys.status()[0]?.error ?? '', /HTTP 500/);
    status = 200;
    await keys.close();
  });
});
