/** certs/bundle.ts and `egress-gate ca bundle`, through the real CLI. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { CaBundleError, buildBundle } from '../../../certs/bundle.js';
import { initCa } from '../../../certs/ca.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
/** Absolute, so the CLI also loads when run from a directory outside the repository. */
const tsx = import.meta.resolve('tsx');
let dir: string;
let caPath: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eg-bundle-'));
  caPath = (await initCa(path.join(dir, 'ca'))).certPath;
});
after(() => rm(dir, { recursive: true, force: true }));

function cli(args: string[], cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', tsx, path.join(root, 'cli/main.ts'), ...args], { cwd }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

/** Fingerprints of every certificate in a PEM bundle. */
function fingerprints(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b).fingerprint256);
}

describe('ca bundle (CLI)', () => {
  test('--ca: the bundle holds the gate CA and every root Node ships (at least 100)', async () => {
    const out = path.join(dir, 'bundle.pem');
    const r = await cli(['ca', 'bundle', '--ca', caPath, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const fps = fingerprints(await readFile(out, 'utf8'));
    assert.ok(fps.length >= 101, `${fps.length} certificates`);
    assert.equal(fps.length, tls.rootCertificates.length + 1);
    assert.ok(fps.includes(new X509Certificate(await readFile(caPath)).fingerprint256), 'gate CA present');
  });

  test('a client trusting only the bundle verifies a certificate issued by the gate CA (openssl verify)', async () => {
    const out = path.join(dir, 'bundle-verify.pem');
    assert.equal((await cli(['ca', 'bundle', '--ca', caPath, '--out', out])).code, 0);
    const r = await run('openssl', ['verify', '-CAfile', out, caPath]);
    assert.match(r.stdout, /: OK/);
  });

  test('--config: the gate CA comes from tls.ca_cert, relative to the config file', async () => {
    const cfgDir = path.join(dir, 'cfg');
    await mkdir(path.join(cfgDir, 'routes'), { recursive: true });
    const { certPath, keyPath } = await initCa(path.join(cfgDir, 'certs'));
    await writeFile(path.join(cfgDir, 'egress-gate.yaml'), `policy:\n  routes: [./routes/]\ntls:\n  ca_cert: ./certs/ca.pem\n  ca_key: ./certs/ca-key.pem\n`);
    const out = path.join(dir, 'from-config.pem');
    const r = await cli(['ca', 'bundle', '--config', path.join(cfgDir, 'egress-gate.yaml'), '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fingerprints(await readFile(out, 'utf8')).includes(new X509Certificate(await readFile(certPath)).fingerprint256));
    assert.ok(keyPath);
  });

  test('with neither flag and no ./egress-gate.yaml, the development default ./.egress-gate/ca/ca.pem is used', async () => {
    const cwd = path.join(dir, 'dev');
    const { certPath } = await initCa(path.join(cwd, '.egress-gate', 'ca'));
    const r = await cli(['ca', 'bundle', '--out', 'b.pem'], cwd);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fingerprints(await readFile(path.join(cwd, 'b.pem'), 'utf8')).includes(new X509Certificate(await readFile(certPath)).fingerprint256));
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const missing = await cli(['ca', 'bundle', '--out', 'b.pem'], empty);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /\.egress-gate\/ca\/ca\.pem: ENOENT/);
  });

  test('usage errors exit 2: no --out, --ca with --config', async () => {
    assert.equal((await cli(['ca', 'bundle', '--ca', caPath])).code, 2);
    const r = await cli(['ca', 'bundle', '--ca', caPath, '--config', 'x.yaml', '--out', path.join(dir, 'x.pem')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exclusive/);
  });
});

describe('buildBundle', () => {
  test('puts the gate CA last, after the given roots, under a comment naming it', async () => {
    const caPem = await readFile(caPath, 'utf8');
    const text = buildBundle(caPem, [tls.rootCertificates[0] as string]);
    const fps = fingerprints(text);
    assert.equal(fps.length, 2);
    assert.equal(fps[1], new X509Certificate(caPem).fingerprint256);
    assert.match(text, /^# egress-gate CA: O=egress-gate, CN=egress-gate CA /m);
  });

  test('refuses a file without exactly one certificate, or a non-CA certificate (ERR_BUNDLE_CA_INVALID)', async () => {
    const caPem = await readFile(caPath, 'utf8');
    const code = (e: CaBundleError) => e.code === 'ERR_BUNDLE_CA_INVALID';
    assert.throws(() => buildBundle('not a pem'), code);
    assert.throws(() => buildBundle(caPem + caPem), code);
    const leafDir = path.join(dir, 'leaf');
    await mkdir(leafDir);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(leafDir, 'k.pem'),
      '-subj', '/CN=leaf', '-days', '1', '-addext', 'basicConstraints=critical,CA:FALSE', '-out', path.join(leafDir, 'c.pem')]);
    assert.throws(() => buildBundle(caPem.replace(/-----BEGIN[\s\S]+END CERTIFICATE-----/, '') + ''), code);
    const leafPem = await readFile(path.join(leafDir, 'c.pem'), 'utf8');
    assert.throws(() => buildBundle(leafPem), (e: CaBundleError) => code(e) && /not a CA/.test(e.message));
  });
});
