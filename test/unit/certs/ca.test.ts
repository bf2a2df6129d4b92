/** certs/ca.ts and `egress-gate ca init`, through the real CLI and real files. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CaError, initCa, loadCa } from '../../../certs/ca.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
/** Absolute, so the CLI also loads when run from a directory outside the repository. */
const tsx = import.meta.resolve('tsx');
let dir: string;

before(async () => { dir = await mkdtemp(path.join(tmpdir(), 'eg-ca-')); });
after(() => rm(dir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', tsx, path.join(root, 'cli/main.ts'), ...args], { cwd: root }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('ca init (CLI)', () => {
  test('writes a P-256 CA certificate and a matching 0600 key, valid about 10 years, backdated', async () => {
    const out = path.join(dir, 'cli', 'nested');
    const t0 = Date.now();
    const r = await cli(['ca', 'init', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const certPath = path.join(out, 'ca.pem');
    const keyPath = path.join(out, 'ca-key.pem');
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    const keyPem = await readFile(keyPath, 'utf8');
    assert.ok(!r.stdout.includes(keyPem.split('\n')[1] as string), 'the key is never printed');
    const cert = new X509Certificate(await readFile(certPath));
    assert.equal(cert.ca, true);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.match(cert.subject, /CN=egress-gate CA /);
    assert.equal(cert.keyUsage, undefined, 'no extendedKeyUsage on the CA');
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    assert.ok(from < t0 - 60_000 && from > t0 - 3600_000, `backdated a few minutes: ${cert.validFrom}`);
    assert.ok(to - t0 > 9.9 * 365 * 86400_000, `valid ~10 years: ${cert.validTo}`);
  });

  test('refuses to replace an existing CA (exit 2, files unchanged); --force replaces it', async () => {
    const out = path.join(dir, 'again');
    assert.equal((await cli(['ca', 'init', '--out', out])).code, 0);
    const before = await readFile(path.join(out, 'ca-key.pem'), 'utf8');
    const r = await cli(['ca', 'init', '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists/);
    assert.equal(await readFile(path.join(out, 'ca-key.pem'), 'utf8'), before);
    assert.equal((await cli(['ca', 'init', '--out', out, '--force'])).code, 0);
    assert.notEqual(await readFile(path.join(out, 'ca-key.pem'), 'utf8'), before);
    assert.equal((await stat(path.join(out, 'ca-key.pem'))).mode & 0o777, 0o600);
  });

  test('without --out is a usage error (exit 2)', async () => {
    const r = await cli(['ca', 'init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--out DIR is required/);
  });
});

describe('initCa / loadCa', () => {
  test('initCa refuses when only ca.pem exists (ERR_CA_EXISTS)', async () => {
    const out = path.join(dir, 'only-cert');
    const { certPath, keyPath } = await initCa(out);
    await rm(keyPath);
    await assert.rejects(initCa(out), (e: CaError) => e.code === 'ERR_CA_EXISTS' && e.message.includes(certPath));
  });

  test('loadCa imports the key non-extractable and keeps the certificate', async () => {
    const { certPath, keyPath } = await initCa(path.join(dir, 'load'));
    const ca = await loadCa(certPath, keyPath);
    assert.equal(ca.signingKey.extractable, false);
    assert.deepEqual(ca.signingKey.usages, ['sign']);
    assert.equal(new X509Certificate(ca.certPem).fingerprint256, new X509Certificate(await readFile(certPath)).fingerprint256);
  });

  test('loadCa refuses a key that does not belong to the certificate (ERR_CA_KEY_MISMATCH)', async () => {
    const a = await initCa(path.join(dir, 'a'));
    const b = await initCa(path.join(dir, 'b'));
    await assert.rejects(loadCa(a.certPath, b.keyPath), (e: CaError) => e.code === 'ERR_CA_KEY_MISMATCH');
  });

  test('loadCa refuses unreadable, non-PEM and non-CA input with stable codes, never echoing the key', async () => {
    const { certPath, keyPath } = await initCa(path.join(dir, 'c'));
    await assert.rejects(loadCa(path.join(dir, 'nope.pem'), keyPath), (e: CaError) => e.code === 'ERR_CA_READ');
    const junk = path.join(dir, 'junk.pem');
    await writeFile(junk, 'SECRET-LOOKING-TEXT\n');
    await assert.rejects(loadCa(certPath, junk), (e: CaError) => e.code === 'ERR_CA_INVALID' && !e.message.includes('SECRET'));
    await assert.rejects(loadCa(junk, keyPath), (e: CaError) => e.code === 'ERR_CA_INVALID');
  });

  test('loadCa accepts a CA made by openssl (SEC1 EC key, P-384) and refuses a non-CA certificate', async () => {
    const d = path.join(dir, 'openssl');
    await run('mkdir', ['-p', d]);
    await run('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout', '-out', path.join(d, 'k.pem')]);
    await run('openssl', ['req', '-x509', '-new', '-key', path.join(d, 'k.pem'), '-subj', '/CN=ops CA', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', path.join(d, 'ca.pem')]);
    assert.match(await readFile(path.join(d, 'k.pem'), 'utf8'), /BEGIN EC PRIVATE KEY/);
    const ca = await loadCa(path.join(d, 'ca.pem'), path.join(d, 'k.pem'));
    assert.deepEqual(ca.signingAlgorithm, { name: 'ECDSA', hash: 'SHA-384' });
    await run('openssl', ['req', '-x509', '-new', '-key', path.join(d, 'k.pem'), '-subj', '/CN=leafy', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:FALSE', '-out', path.join(d, 'leaf.pem')]);
    await assert.rejects(loadCa(path.join(d, 'leaf.pem'), path.join(d, 'k.pem')), (e: CaError) => e.code === 'ERR_CA_INVALID' && /not a CA/.test(e.message));
  });
});
