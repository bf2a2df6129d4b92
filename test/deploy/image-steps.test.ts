/**
 * The image's install and start steps, outside Docker: copy what deploy/Dockerfile's final
 * stage copies (read from the Dockerfile itself) into a temp dir, run its `npm ci` there
 * (--prefer-offline: from the local npm cache), then start `node bin/egress-gate.js start --config`
 * with a generated config and wait for GET /healthz 200 on the admin port.
 * Needs a built dist/ (`npm test` builds first) and openssl.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDockerfile, stages } from './dockerfile-parse.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'eg-image-'));
const app = path.join(tmp, 'app');
let gate: ChildProcess | undefined;

after(() => {
  if (gate?.pid !== undefined && gate.exitCode === null) gate.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function writeGateFiles(dir: string, listen: number, admin: number): string {
  mkdirSync(path.join(dir, 'keys'), { recursive: true });
  mkdirSync(path.join(dir, 'routes'));
  mkdirSync(path.join(dir, 'secrets'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=egress-gate test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', path.join(dir, 'keys/ca-key.pem'), '-out', path.join(dir, 'keys/ca.pem')], { stdio: 'pipe' });
  const receipt = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  writeFileSync(path.join(dir, 'keys/receipts.private.jwk.json'), JSON.stringify({ ...receipt, kid: 'receipts-1', alg: 'EdDSA' }), { mode: 0o600 });
  const issuer = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  writeFileSync(path.join(dir, 'keys/arbiter.jwks.json'), JSON.stringify({ keys: [{ ...issuer, kid: 'arbiter-1', alg: 'EdDSA', use: 'sig' }] }));
  cpSync(path.join(root, 'deploy/kubernetes/gate-config/routes/public.yaml'), path.join(dir, 'routes/public.yaml'));
  const config = path.join(dir, 'egress-gate.yaml');
  writeFileSync(config, [
    'gate:', '  id: image-steps-test', `  listen: 127.0.0.1:${listen}`, `  admin: 127.0.0.1:${admin}`,
    'policy:', '  routes: [./routes/]',
    'permits:', '  issuers:', '    - iss: https://arbiter.example', '      jwks: ./keys/arbiter.jwks.json', '      algorithms: [EdDSA]',
    'secrets:', '  dir: ./secrets',
    'receipts:', '  dir: ./receipts', '  key: ./keys/receipts.private.jwk.json',
    'tls:', '  ca_cert: ./keys/ca.pem', '  ca_key: ./keys/ca-key.pem', '',
  ].join('\n'));
  return config;
}

describe('image steps outside Docker', () => {
  it('installs production dependencies like the final stage, then starts and answers /healthz', async () => {
    assert.ok(existsSync(path.join(root, 'dist/cli/main.js')), 'dist/ is built (npm run build; npm test builds first)');
    const final = stages(parseDockerfile(readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8'))).at(-1)!;
    mkdirSync(app);
    // The same files the final stage copies from the build stage (/src/X -> /app/Y).
    for (const c of final.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))) {
      const parts = c.args.split(/\s+/).slice(1);
      const dest = parts.pop()!;
      for (const src of parts) {
        const rel = path.relative('/src', src);
        const to = dest === './' ? path.join(app, path.basename(rel)) : path.join(app, dest);
        assert.ok(existsSync(path.join(root, rel)), `the Dockerfile copies ${rel}, which must exist`);
        cpSync(path.join(root, rel), to, { recursive: true });
      }
    }
    const install = final.find((i) => i.op === 'RUN' && i.args.includes('npm ci'))!.args.split('&&')[0]!.trim().split(/\s+/);
    // --prefer-offline: from the local npm cache when it has the packages (the lockfile has no
    // `resolved` URLs, so strict --offline would need cached registry metadata too).
    execFileSync('npm', [...install.slice(1), '--prefer-offline'], { cwd: app, stdio: 'pipe', env: { ...process.env, npm_config_update_notifier: 'false' } });
    assert.ok(existsSync(path.join(app, 'node_modules/jose')), 'production dependency installed');
    assert.ok(!existsSync(path.join(app, 'node_modules/typescript')), 'no dev dependency installed');

    const [listen, admin] = [await freePort(), await freePort()];
    const config = writeGateFiles(path.join(tmp, 'etc'), listen, admin);
    gate = spawn(process.execPath, ['bin/egress-gate.js', 'start', '--config', config], { cwd: app, env: { ...process.env, HOME: tmp, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    gate.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && gate.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${admin}/healthz`).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200, `GET /healthz on the admin port (gate exit code ${gate.exitCode}; stderr: ${stderr.slice(0, 2000)})`);
  });
});
