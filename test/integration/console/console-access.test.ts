/**
 * Who may read the admin console, at the HTTP level against a real gate process:
 * - `gate.admin` on a non-loopback address (0.0.0.0 here, reached at this machine's own
 *   non-loopback address from `hostname -I` when it has one) needs `gate.admin_token_file`:
 *   without it the gate refuses to start; with it every console API and the stream answer 401
 *   without the token (or with another), 200 with it, while /healthz, /readyz, /metrics and
 *   the page shell stay open for probes;
 * - on loopback without a token, a Host header that is not a loopback name is refused (403),
 *   so a web page cannot read the console through DNS rebinding;
 * - the stream carries a decision's reason and URL, never its query, a header value or a token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import { cli, startGate, viaProxy, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { consoleWorkspace } from './console-kit.js';

const TOKEN = 'console-token-0123456789abcdef';

/** This machine's first non-loopback address (`hostname -I`), else 127.0.0.1 (0.0.0.0 listens on both). */
function ownAddress(): string {
  try {
    const first = execFileSync('hostname', ['-I'], { encoding: 'utf8' }).split(/\s+/).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
    if (first) return first;
  } catch { /* no hostname -I */ }
  return '127.0.0.1';
}

function get(host: string, port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: p, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

function post(host: string, port: number, p: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: p, method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens the event stream and collects its text until `until` matches (or the time runs out). */
function streamUntil(port: number, headers: Record<string, string>, until: RegExp, onOpen: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = http.get({ host: '127.0.0.1', port, path: '/console/api/events', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`stream answered ${res.statusCode}`)); return; }
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        const first = text === '';
        text += c;
        if (first) onOpen();
        if (until.test(text)) { req.destroy(); resolve(text); }
      });
    });
    req.on('error', (e) => { if (!until.test(text)) reject(e); });
    setTimeout(() => { req.destroy(); reject(new Error(`stream: no match in ${text}`)); }, 8000).unref();
  });
}

const CONSOLE_APIS = ['/console/api/routes', '/console/api/decisions', '/console/api/events', '/console/api/decision?id=01a23853-c037-71a0-b162-28534fd4e2bf'];

describe('admin console on a non-loopback admin address', () => {
  let ws: GateWorkspace;
  let origin: Origin;
  let gate: GateProcess;
  const host = ownAddress();

  before(async () => {
    ({ ws, origin } = await consoleWorkspace((c) => { c.gate.admin = `0.0.0.0:${c.gate.admin.split(':')[1]}`; }));
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('refuses to start without gate.admin_token_file, naming the admin key', () => {
    const r = cli(['start', '--config', ws.configPath]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${ws.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: gate: "admin" binds 0\\.0\\.0\\.0.*set admin_token_file`));
  });

  it('refuses to start with a token file that holds no usable token', () => {
    fs.writeFileSync(path.join(ws.dir, 'admin.token'), '\n');
    ws.config.gate.admin_token_file = './admin.token';
    fs.writeFileSync(ws.configPath, stringify(ws.config));
    const r = cli(['start', '--config', ws.configPath]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /admin_token_file .*must hold one token/);
  });

  it('with the token file: console data needs the token; probes, metrics and the page shell do not', async () => {
    fs.writeFileSync(path.join(ws.dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o600 });
    gate = await startGate(ws);
    for (const p of CONSOLE_APIS) {
      assert.equal((await get(host, ws.adminPort, p)).status, 401, `${p} without a token`);
      assert.equal((await get(host, ws.adminPort, p, { authorization: `Bearer ${TOKEN}x` })).status, 401, `${p} with another token`);
      assert.equal((await get(host, ws.adminPort, p, { authorization: TOKEN })).status, 401, `${p} without the Bearer scheme`);
    }
    const explain = JSON.stringify({ method: 'GET', url: `http://open.it:${origin.port}/docs/a` });
    assert.equal((await post(host, ws.adminPort, '/console/api/explain', explain, { 'content-type': 'application/json' })).status, 401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const routes = await get(host, ws.adminPort, '/console/api/routes', auth);
    assert.equal(routes.status, 200);
    assert.equal(JSON.parse(routes.text).policy.loaded, true);
    assert.equal((await get(host, ws.adminPort, '/console/api/decisions', auth)).status, 200);
    const ex = await post(host, ws.adminPort, '/console/api/explain', explain, { 'content-type': 'application/json', ...auth });
    assert.equal(ex.status, 200, ex.text);
    assert.equal(JSON.parse(ex.text).reason, 'NO_PERMIT_REQUIRED');
    for (const p of ['/healthz', '/readyz', '/metrics', '/receipts/key']) assert.equal((await get(host, ws.adminPort, p)).status, 200, `${p} stays open`);
    const shell = await get(host, ws.adminPort, '/');
    assert.equal(shell.status, 200);
    assert.match(String(shell.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
    assert.ok(!shell.text.includes('<script>') && !/<script(?![^>]*\bsrc=)/.test(shell.text), 'no inline script');
  });

  it('the stream, with the token, carries the decision and its reason but never its query, a header value or the permit', async () => {
    const got = streamUntil(ws.adminPort, { authorization: `Bearer ${TOKEN}` }, /"reason":"ROUTE_DENY"[\s\S]*\n\n/, () => {
      void viaProxy(ws.listenPort, `http://open.it:${origin.port}/secrets/k?api_key=QUERY-SECRET-1`, { headers: { 'x-api-key': 'HEADER-SECRET-2', 'Egress-Permit': 'PERMIT-SECRET-3' } });
    });
    const text = await got;
    assert.match(text, /^event: hello\n/);
    const decision = text.split('\n\n').find((b) => b.startsWith('event: decision'));
    assert.ok(decision, text);
    const e = JSON.parse(decision.split('\ndata: ')[1] as string);
    assert.equal(e.url, `http://open.it:${origin.port}/secrets/k`);
    assert.equal(e.decision, 'DENY');
    for (const secret of ['QUERY-SECRET', 'HEADER-SECRET', 'PERMIT-SECRET', 'api_key']) assert.ok(!text.includes(secret), `${secret} not in the stream`);
  });
});

describe('admin console on loopback without a token', () => {
  let ws: GateWorkspace;
  let origin: Origin;
  let gate: GateProcess;
  before(async () => {
    ({ ws, origin } = await consoleWorkspace());
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('answers loopback Host names, refuses others (DNS rebinding), and stays read-only', async () => {
    assert.equal((await get('127.0.0.1', ws.adminPort, '/console/api/routes')).status, 200);
    assert.equal((await get('127.0.0.1', ws.adminPort, '/console/api/routes', { host: `localhost:${ws.adminPort}` })).status, 200);
    assert.equal((await get('127.0.0.1', ws.adminPort, '/console/api/routes', { host: `[::1]:${ws.adminPort}` })).status, 200);
    for (const h of [`rebind.example:${ws.adminPort}`, `127.0.0.1.evil.example:${ws.adminPort}`, `192.0.2.2:${ws.adminPort}`]) {
      assert.equal((await get('127.0.0.1', ws.adminPort, '/console/api/routes', { host: h })).status, 403, `Host ${JSON.stringify(h)}`);
    }
    // Only explain takes a POST, and only as JSON (a form post from another site is refused).
    const body = JSON.stringify({ method: 'GET', url: `http://open.it:${origin.port}/docs/a` });
    assert.equal((await post('127.0.0.1', ws.adminPort, '/console/api/explain', body, { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await post('127.0.0.1', ws.adminPort, '/console/api/routes', '', { 'content-type': 'application/json' })).status, 405);
  });
});
