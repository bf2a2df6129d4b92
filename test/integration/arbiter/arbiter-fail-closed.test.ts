/**
 * The arbiter fails closed (SPEC §12): a decider that cannot be asked, a log that cannot be
 * written — no permit, 503 with Retry-After; a request nobody decides expires; break glass
 * opened, confirmed by a second person, used (its permit carries bgl), then expired; no
 * usable signing key: no start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { BIN, cleanEnv, freePort, GATE_ID, genKey, SUBJECT, workspace } from '../harness.js';
import { api, arbiterWorkspace, startArbiterProcess, type ArbiterProcess, type ArbiterWorkspace } from './arbiter-harness.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('base64url');
const ROUTES = { routes: [
  { surface: 'notes', action: 'create', match: { scheme: 'http', host: 'api.it', port: 8080, method: 'POST', path: '/notes' }, authorize: 'permit' },
  { surface: 'notes', action: 'publish', match: { scheme: 'http', host: 'api.it', port: 8080, method: 'POST', path: '/publish' }, authorize: 'permit' },
  { surface: 'ops', action: 'restart', match: { scheme: 'http', host: 'api.it', port: 8080, method: 'POST', path: '/restart' }, authorize: 'permit' },
] };
const req = (p: string) => ({ gate: GATE_ID, request: { method: 'POST', url: `http://api.it:8080/${p}` } });
const claimsOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1] as string, 'base64url').toString());

async function setUp(config: (c: Record<string, any>) => void): Promise<{ aws: ArbiterWorkspace; arbiter: ArbiterProcess }> {
  const gws = await workspace({ routes: ROUTES });
  const aws = await arbiterWorkspace({ dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'), config });
  return { aws, arbiter: await startArbiterProcess(aws) };
}

describe('arbiter fails closed', () => {
  let deciderUp: http.Server;
  let deciderPort: number;
  let a: { aws: ArbiterWorkspace; arbiter: ArbiterProcess };
  let down: { aws: ArbiterWorkspace; arbiter: ArbiterProcess };

  before(async () => {
    deciderUp = http.createServer((_q, s) => { s.writeHead(200, { 'content-type': 'application/json' }); s.end('{"result":{"decision":"PERMIT"}}'); });
    deciderPort = await new Promise<number>((r) => deciderUp.listen(0, '127.0.0.1', () => r((deciderUp.address() as any).port)));
    a = await setUp((c) => {
      c.decider = { url: `http://127.0.0.1:${deciderPort}/v1/data/arbiter/decision`, timeout: '500ms' };
      c.pending = { max_wait: '2s' };
      c.break_glass = { approvals: 2, max_ttl: '3s' };
      c.grants = [
        { subject: SUBJECT, surface: 'notes', action: 'create', gates: [GATE_ID], approve: 'auto' },
        { subject: SUBJECT, surface: 'notes', action: 'publish', gates: [GATE_ID], approve: 'human' },
      ];
    });
    const dead = await freePort();
    down = await setUp((c) => {
      c.decider = { url: `http://127.0.0.1:${dead}/v1/data/arbiter/decision`, timeout: '250ms' };
      c.grants = [{ subject: SUBJECT, surface: 'notes', action: 'create', gates: [GATE_ID], approve: 'auto' }];
    });
  });
  after(async () => { await a?.arbiter.stop(); await down?.arbiter.stop(); deciderUp?.close(); });

  it('decider down: 503 DECIDER_ERROR with Retry-After, and no permit logged', async () => {
    const r = await api(down.aws, down.aws.tokens.agent, 'POST', '/v1/permits', req('notes'));
    assert.equal(r.status, 503); assert.equal(r.json.reason, 'DECIDER_ERROR'); assert.equal(r.json.permit, undefined);
    assert.ok(r.headers.get('retry-after'));
    const lines = fs.readdirSync(down.aws.receiptsDir).filter((f) => !f.startsWith('.')).flatMap((f) => fs.readFileSync(path.join(down.aws.receiptsDir, f), 'utf8').split('\n').filter(Boolean));
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => !('checkpoint' in e));
    assert.ok(entries.some((e) => e.kind === 'issuance' && e.reason === 'DECIDER_ERROR'), 'the refusal is logged');
    assert.ok(!entries.some((e) => e.decision === 'PERMIT'));
  });

  it('receipt log unwritable: 503 RECEIPT_UNAVAILABLE and no permit; a permit again once it is writable', async () => {
    assert.equal(spawnSync('prlimit', ['--version']).status, 0, 'this test needs prlimit (Debian package util-linux)');
    assert.equal((await api(a.aws, a.aws.tokens.agent, 'POST', '/v1/permits', req('notes'))).status, 201);
    const size = Math.max(...fs.readdirSync(a.aws.receiptsDir).filter((f) => !f.startsWith('.')).map((f) => fs.statSync(path.join(a.aws.receiptsDir, f)).size));
    execFileSync('prlimit', ['--pid', String(a.arbiter.proc.pid), `--fsize=${size + 10}:`]);
    try {
      const r = await api(a.aws, a.aws.tokens.agent, 'POST', '/v1/permits', req('notes'));
      assert.equal(r.status, 503); assert.equal(r.json.reason, 'RECEIPT_UNAVAILABLE'); assert.equal(r.json.permit, undefined);
      assert.equal((await api(a.aws, undefined, 'GET', '/readyz')).status, 503);
    } finally {
      execFileSync('prlimit', ['--pid', String(a.arbiter.proc.pid), '--fsize=unlimited:']);
    }
    assert.equal((await api(a.aws, a.aws.tokens.agent, 'POST', '/v1/permits', req('notes'))).status, 201);
  });

  it('a request nobody decides within pending.max_wait is APPROVAL_EXPIRED', async () => {
    const p = await api(a.aws, a.aws.tokens.agent, 'POST', '/v1/permits', req('publish'));
    assert.equal(p.status, 202);
    await new Promise((r) => setTimeout(r, 3000));
    const r = await api(a.aws, a.aws.tokens.agent, 'GET', p.json.poll);
    assert.equal(r.status, 403); assert.equal(r.json.reason, 'APPROVAL_EXPIRED');
    assert.equal((await api(a.aws, a.aws.tokens.alice, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true })).json.reason, 'ALREADY_DECIDED');
  });

  it('break glass: opened, not effective until a second approver confirms, its permits carry bgl, then it expires', async () => {
    const t = a.aws.tokens;
    assert.equal((await api(a.aws, t.agent, 'POST', '/v1/permits', req('restart'))).json.reason, 'NO_GRANT');
    const o = await api(a.aws, t.alice, 'POST', '/v1/break-glass', { subject: SUBJECT, surface: 'ops', action: 'restart', ttl: '2s', reason: 'incident 7' });
    assert.equal(o.status, 201, JSON.stringify(o.json)); assert.equal(o.json.break_glass.state, 'open');
    assert.equal((await api(a.aws, t.agent, 'POST', '/v1/permits', req('restart'))).json.reason, 'NO_GRANT');
    assert.equal((await api(a.aws, t.alice, 'POST', `/v1/break-glass/${o.json.break_glass.id}/confirm`)).json.reason, 'ALREADY_VOTED');
    const c = await api(a.aws, t.bob, 'POST', `/v1/break-glass/${o.json.break_glass.id}/confirm`);
    assert.equal(c.json.break_glass.state, 'effective');
    const used = await api(a.aws, t.agent, 'POST', '/v1/permits', req('restart'));
    assert.equal(used.status, 201); assert.equal(claimsOf(used.json.permit).bgl, o.json.break_glass.id);
    const metrics = await (await fetch(`${a.aws.url}/metrics`)).text();
    assert.match(metrics, /egress_arbiter_break_glass_active 1/);
    assert.match(a.arbiter.output(), /BREAK GLASS confirmed and effective/);
    await new Promise((r) => setTimeout(r, 2600));
    assert.equal((await api(a.aws, t.agent, 'POST', '/v1/permits', req('restart'))).json.reason, 'NO_GRANT');
    assert.match(a.arbiter.output(), /BREAK GLASS expired/);
  });
});

describe('arbiter without a usable signing key', () => {
  /** Runs `arbiter start` on a workspace whose arbiter.key is `key`; resolves with exit code and stderr. */
  async function startWith(key: (dir: string) => string): Promise<{ code: number | null; stderr: string; listening: boolean }> {
    const gws = await workspace({ routes: ROUTES });
    const aws = await arbiterWorkspace({ dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'), config: (c) => { c.arbiter.key = key(path.join(gws.dir, 'arbiter')); } });
    const r = spawnSync(process.execPath, [BIN, 'arbiter', 'start', '--config', aws.configPath], { cwd: aws.dir, env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
    const listening = await fetch(`${aws.url}/healthz`).then(() => true, () => false);
    return { code: r.status, stderr: r.stderr, listening };
  }

  it('a missing key file: no start (exit 2, the file named), nothing listening', async () => {
    const r = await startWith((dir) => path.join(dir, 'keys', 'missing.jwk.json'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /missing\.jwk\.json/);
    assert.equal(r.listening, false);
  });

  it('a public key only: no start (exit 2), it must be a private JWK', async () => {
    const r = await startWith((dir) => {
      const f = path.join(dir, 'keys', 'public.jwk.json');
      fs.writeFileSync(f, JSON.stringify(genKey('EdDSA', 'pub-only').publicJwk));
      return f;
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /must be a private JWK with a kid/);
    assert.equal(r.listening, false);
  });
});
