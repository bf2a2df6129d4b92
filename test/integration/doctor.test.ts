// `egress-gate doctor` against a running gate: proxy variables, gate and admin answering, the gate
// CA in the trust stores (trusted and not), and direct connections refused or accepted (issue 16).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { adminGet, BIN, cleanEnv, cli, freePort, startGate, workspace, type GateProcess, type GateWorkspace } from './harness.js';

function doctor(args: string[], env: Record<string, string>) {
  const base = cleanEnv();
  for (const k of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'NODE_USE_ENV_PROXY']) delete base[k];
  const r = spawnSync(process.execPath, [BIN, 'doctor', ...args], { encoding: 'utf8', env: { ...base, ...env }, timeout: 30_000 });
  const lines = new Map<string, { level: string; message: string }>();
  for (const l of r.stdout.split('\n')) {
    const m = /^(ok|warn|fail)\s+(\S+(?: \S+)?)\s{2,}(.*)$/.exec(l);
    if (m) lines.set(m[2]!, { level: m[1]!, message: m[3]! });
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, line: (check: string) => lines.get(check) };
}

describe('egress-gate doctor', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let listening: net.Server;
  let L: number;
  let bundle: string;
  let otherPem: string;
  const proxy = () => `http://127.0.0.1:${ws.listenPort}`;
  const admin = () => `http://127.0.0.1:${ws.adminPort}`;

  before(async () => {
    ws = await workspace({ routes: { routes: [{ surface: 's', action: 'a', match: { host: 'example.com' }, authorize: 'deny' }] } });
    gate = await startGate(ws);
    listening = net.createServer((c) => c.destroy());
    L = await new Promise<number>((r) => listening.listen(0, '127.0.0.1', () => r((listening.address() as net.AddressInfo).port)));
    bundle = path.join(ws.dir, 'bundle.pem');
    assert.equal(cli(['ca', 'bundle', '--ca', ws.caCert, '--out', bundle]).code, 0);
    const other = path.join(ws.dir, 'other-ca');
    assert.equal(cli(['ca', 'init', '--out', other]).code, 0);
    otherPem = path.join(other, 'ca.pem');
  });
  after(async () => { await gate?.stop(); await new Promise((r) => listening?.close(r)); });

  it('the admin serves the gate CA at /ca.pem', async () => {
    const r = await adminGet(ws.adminPort, '/ca.pem');
    assert.equal(r.status, 200);
    assert.equal(r.text, fs.readFileSync(ws.caCert, 'utf8'));
  });

  it('all set, CA trusted, the probe refused: every line ok, exit 0', async () => {
    const refused = await freePort();
    const r = doctor(['--admin', admin(), '--probe', `127.0.0.1:${refused}`], {
      HTTP_PROXY: proxy(), http_proxy: proxy(), HTTPS_PROXY: proxy(), https_proxy: proxy(), NO_PROXY: 'localhost', no_proxy: 'localhost',
      NODE_USE_ENV_PROXY: '1', NODE_EXTRA_CA_CERTS: ws.caCert, SSL_CERT_FILE: bundle, REQUESTS_CA_BUNDLE: bundle, CURL_CA_BUNDLE: bundle,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.line('gate proxy')!.message, /answers \(a test request: DENY ROUTE_UNMATCHED\)/);
    assert.equal(r.line('gate proxy')!.level, 'ok');
    assert.equal(r.line('gate admin')!.level, 'ok');
    for (const v of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE']) {
      assert.equal(r.line(`trust ${v}`)?.level, 'ok', r.stdout);
      assert.match(r.line(`trust ${v}`)!.message, /holds the gate CA/);
    }
    assert.equal(r.line(`direct 127.0.0.1:${refused}`)?.level, 'ok');
    assert.match(r.line(`direct 127.0.0.1:${refused}`)!.message, /refused \(ECONNREFUSED\)/);
    assert.match(r.stdout, /^0 failed, 0 warnings, \d+ ok$/m);
  });

  it('CA not trusted, one case of a variable, an accepted probe, --ca FILE: fail and warn lines, exit 1', async () => {
    const r = doctor(['--admin', admin(), '--ca', ws.caCert, '--probe', `127.0.0.1:${L}`], {
      HTTP_PROXY: proxy(), https_proxy: proxy(), HTTPS_PROXY: 'http://127.0.0.1:1',
      NODE_EXTRA_CA_CERTS: otherPem, SSL_CERT_FILE: path.join(ws.dir, 'missing.pem'),
    });
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.line('env HTTP_PROXY/http_proxy')?.level, 'warn');
    assert.match(r.line('env HTTP_PROXY/http_proxy')!.message, /only HTTP_PROXY is set .*curl and wget read only lowercase http_proxy/);
    assert.equal(r.line('env HTTPS_PROXY/https_proxy')?.level, 'fail');
    assert.match(r.line('env HTTPS_PROXY/https_proxy')!.message, /they differ/);
    assert.equal(r.line('env NODE_USE_ENV_PROXY')?.level, 'warn');
    // --gate defaults to HTTPS_PROXY: port 1 refuses
    assert.equal(r.line('gate proxy')?.level, 'fail');
    assert.match(r.line('gate proxy')!.message, /ECONNREFUSED/);
    assert.equal(r.line('trust NODE_EXTRA_CA_CERTS')?.level, 'fail');
    assert.match(r.line('trust NODE_EXTRA_CA_CERTS')!.message, /does not hold the gate CA: Node will refuse/);
    assert.equal(r.line('trust SSL_CERT_FILE')?.level, 'fail');
    assert.match(r.line('trust SSL_CERT_FILE')!.message, /cannot be read \(ENOENT\)/);
    assert.equal(r.line('trust CURL_CA_BUNDLE')?.level, 'warn');
    assert.equal(r.line(`direct 127.0.0.1:${L}`)?.level, 'fail');
    assert.match(r.line(`direct 127.0.0.1:${L}`)!.message, /a direct connection succeeded.*only the lockdown in deploy\/ refuses it/);
  });

  it('no proxy variables at all: fail lines naming the hole; --gate given explicitly still finds the gate', async () => {
    const r = doctor(['--gate', proxy(), '--admin', admin()], {});
    assert.equal(r.code, 1);
    assert.match(r.line('env HTTP_PROXY/http_proxy')!.message, /neither is set: clients send http:\/\/ requests straight to the origin/);
    assert.equal(r.line('env NO_PROXY/no_proxy')?.level, 'ok');
    assert.equal(r.line('gate proxy')?.level, 'ok');
    assert.equal(r.line('trust NODE_EXTRA_CA_CERTS')?.level, 'warn', 'CA from the admin /ca.pem, store not set');
  });

  it('a bad --probe is a usage error (exit 2)', () => {
    const r = doctor(['--probe', 'nope'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--probe needs host:port/);
  });
});
