/** certs/leaf-issuer.ts: leaves verify against the gate CA, name their host, are cached and bounded. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initCa, loadCa, type Ca } from '../../../certs/ca.js';
import { createLeafIssuer, LeafError } from '../../../certs/leaf-issuer.js';

let dir: string;
let ca: Ca;
let caCert: X509Certificate;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eg-leaf-'));
  const { certPath, keyPath } = await initCa(dir);
  ca = await loadCa(certPath, keyPath);
  caCert = new X509Certificate(ca.certPem);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('createLeafIssuer', () => {
  test('a DNS host gets a leaf signed by the CA, naming the host, serverAuth, backdated and short-lived', async () => {
    const now = Date.parse('2030-01-01T12:00:00Z');
    const leafs = createLeafIssuer(ca, { validityHours: 24, clock: () => now });
    const leaf = new X509Certificate(await leafs.certificateFor('API.Example.com.'));
    assert.ok(leaf.verify(caCert.publicKey), 'signed by the gate CA');
    assert.ok(leaf.checkIssued(caCert));
    assert.equal(leaf.ca, false);
    assert.equal(leaf.subjectAltName, 'DNS:api.example.com');
    assert.equal(leaf.checkHost('api.example.com'), 'api.example.com');
    assert.equal(leaf.checkHost('other.example.com'), undefined);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(new Date(leaf.validFrom).getTime(), now - 3600_000);
    assert.equal(new Date(leaf.validTo).getTime(), now + 24 * 3600_000);
  });

  test('IP literals get an IP SAN (v4, v6 with or without brackets) and no DNS SAN', async () => {
    const leafs = createLeafIssuer(ca);
    const v4 = new X509Certificate(await leafs.certificateFor('10.1.2.3'));
    assert.equal(v4.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(v4.subjectAltName, 'IP Address:10.1.2.3');
    assert.ok(v4.verify(caCert.publicKey));
    for (const h of ['[2001:db8::7]', '2001:db8::7']) {
      const v6 = new X509Certificate(await leafs.certificateFor(h));
      assert.equal(v6.checkIP('2001:db8::7'), '2001:db8::7', h);
    }
  });

  test('every leaf shares one key, different from the CA key', async () => {
    const leafs = createLeafIssuer(ca);
    const a = new X509Certificate(await leafs.certificateFor('a.test'));
    const b = new X509Certificate(await leafs.certificateFor('b.test'));
    const der = (c: X509Certificate) => c.publicKey.export({ type: 'spki', format: 'der' }).toString('hex');
    assert.equal(der(a), der(b));
    assert.notEqual(der(a), der(caCert));
    assert.notEqual(a.serialNumber, b.serialNumber);
  });

  test('concurrent first requests for one host share a single mint', async () => {
    const leafs = createLeafIssuer(ca);
    const [c1, c2, c3] = await Promise.all([leafs.secureContextFor('x.test'), leafs.secureContextFor('X.TEST'), leafs.secureContextFor('x.test.')]);
    assert.equal(c1, c2);
    assert.equal(c2, c3);
    assert.equal(leafs.size, 1);
    assert.equal(await leafs.secureContextFor('x.test'), c1, 'cached afterwards too');
  });

  test('the cache is a bounded LRU: the least recently used host is dropped and re-minted', async () => {
    const leafs = createLeafIssuer(ca, { maxEntries: 2 });
    const a = await leafs.secureContextFor('a.test');
    const b = await leafs.secureContextFor('b.test');
    assert.equal(await leafs.secureContextFor('a.test'), a, 'a becomes most recent');
    await leafs.secureContextFor('c.test');
    assert.equal(leafs.size, 2);
    assert.equal(await leafs.secureContextFor('a.test'), a, 'a survived');
    assert.notEqual(await leafs.secureContextFor('b.test'), b, 'b was evicted and minted again');
    assert.equal(leafs.size, 2);
  });

  test('a cached leaf is re-minted once half its validity has passed', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const leafs = createLeafIssuer(ca, { validityHours: 2, clock: () => now });
    const first = new X509Certificate(await leafs.certificateFor('r.test'));
    now += 59 * 60_000;
    assert.equal(new X509Certificate(await leafs.certificateFor('r.test')).serialNumber, first.serialNumber);
    now += 2 * 60_000;
    const second = new X509Certificate(await leafs.certificateFor('r.test'));
    assert.notEqual(second.serialNumber, first.serialNumber);
    assert.equal(new Date(second.validTo).getTime(), now + 2 * 3600_000);
  });

  test('a host that is neither a DNS name nor an IP literal is refused (ERR_LEAF_HOST_INVALID) and not cached', async () => {
    const leafs = createLeafIssuer(ca);
    for (const bad of ['', 'a b.test', 'evil.test, CN=x', '*.example.com', 'a..b', `${'a'.repeat(64)}.test`, '[not-ip]', '[10.0.0.1]']) {
      await assert.rejects(leafs.secureContextFor(bad), (e: LeafError) => e.code === 'ERR_LEAF_HOST_INVALID', JSON.stringify(bad));
    }
    assert.equal(leafs.size, 0);
  });

  test('a long (over 64 characters) but valid name is still issued, with the name only in the SAN', async () => {
    const host = `${'a'.repeat(60)}.${'b'.repeat(60)}.test`;
    const leaf = new X509Certificate(await createLeafIssuer(ca).certificateFor(host));
    assert.equal(leaf.checkHost(host), host);
    assert.doesNotMatch(leaf.subject, /CN=/);
  });

  test('bad options are caller mistakes (TypeError)', () => {
    assert.throws(() => createLeafIssuer(ca, { maxEntries: 0 }), TypeError);
    assert.throws(() => createLeafIssuer(ca, { validityHours: 0 }), TypeError);
  });

  test('admit(): new hosts are admitted at mintsPerSecond after a burst; a cached host always; the bucket refills', async () => {
    let now = Date.parse('2030-01-01T12:00:00Z');
    const leafs = createLeafIssuer(ca, { clock: () => now, mintsPerSecond: 2, mintBurst: 3 });
    assert.equal(leafs.admit('cached.example'), true);
    await leafs.certificateFor('cached.example');
    assert.deepEqual(['a.example', 'b.example', 'c.example'].map((h) => leafs.admit(h)), [true, true, false], 'burst of 3: one went to cached.example');
    assert.equal(leafs.admit('CACHED.example.'), true, 'a cached host costs no token');
    now += 500; // half a second at 2/s: one token
    assert.equal(leafs.admit('d.example'), true);
    assert.equal(leafs.admit('e.example'), false);
    now += 60_000; // refills to the burst, never beyond
    assert.deepEqual(['f', 'g', 'h', 'i'].map((h) => leafs.admit(`${h}.example`)), [true, true, true, false]);
    assert.equal(leafs.admit('not a host'), true, 'an invalid host is refused where it is minted, not here');
  });

  test('admit(): default limits, 40 at once then about 20 a second', () => {
    let now = 0;
    const leafs = createLeafIssuer(ca, { clock: () => now });
    let n = 0;
    while (leafs.admit(`h${n}.example`)) n++;
    assert.equal(n, 40);
    now += 1000;
    let m = 0;
    while (leafs.admit(`k${m}.example`)) m++;
    assert.equal(m, 20);
  });
});
