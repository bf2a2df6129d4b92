/**
 * The arbiter and a gate as processes, with real clients (SPEC §12): permits asked for over
 * HTTP and used through the gate, human approvals through the API and the CLI, refusals, JWT
 * callers, a restart, and `audit` over both logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { fetch as undiciFetch } from 'undici';
import { createPermitFetch, gateDispatcher, requestPermit } from '../../../sdk/index.js';
import { cli, genKey, GATE_ID, SUBJECT, ISS, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { api, arbiterWorkspace, startArbiterProcess, type ArbiterProcess, type ArbiterWorkspace } from './arbiter-harness.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('base64url');
const readLines = (dir: string) => fs.readdirSync(dir).filter((f) => !f.startsWith('.')).sort().flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean))
  .map((l) => JSON.parse(l) as any).filter((e: any) => !('checkpoint' in e));

describe('arbiter with a gate', () => {
  let origin: Origin;
  let gws: GateWorkspace;
  let gate: GateProcess;
  let aws: ArbiterWorkspace;
  let arbiter: ArbiterProcess;
  const clusterKey = genKey('ES256', 'cluster-1');
  const strangerKey = genKey('ES256', 'cluster-1');
  const notesUrl = () => `http://api.it:${origin.port}/notes`;
  const ask = (extra: Record<string, unknown> = {}) => ({ gate: GATE_ID, request: { method: 'POST', url: notesUrl(), body_sha256: sha('{"n":1}') }, ...extra });

  before(async () => {
    origin = await startOrigin();
    const route = (action: string, p: string) => ({ surface: 'notes', action, match: { scheme: 'http', host: 'api.it', port: origin.port, method: 'POST', path: p }, authorize: 'permit', bind_body: true });
    gws = await workspace({
      routes: { routes: [route('create', '/notes'), route('publish', '/publish'), route('wipe', '/wipe'), route('purge', '/purge'),
        { surface: 'notes', action: 'secret', match: { scheme: 'http', host: 'api.it', port: origin.port, method: 'GET', path: '/secret' }, authorize: 'deny' }] },
      config: (c) => { c.permits.request_url = 'http://127.0.0.1:1/v1/permits'; },
    });
    fs.writeFileSync(path.join(gws.dir, 'cluster.jwks.json'), JSON.stringify({ keys: [clusterKey.publicJwk] }));
    aws = await arbiterWorkspace({
      dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'),
      config: (c) => {
        c.callers.push({ jwt: { iss: 'https://kubernetes.default.svc', jwks: path.join(gws.dir, 'cluster.jwks.json'), aud: 'egress-arbiter' }, subject: 'k8s:${sub}' });
        c.grants = [
          { subject: 'agent:*', surface: 'notes', action: 'create', gates: [GATE_ID], approve: 'auto', rate: '3/1h' },
          { subject: SUBJECT, surface: 'notes', action: 'publish', gates: [GATE_ID], approve: 'human', approvals: 1 },
          { subject: SUBJECT, surface: 'notes', action: 'wipe', gates: [GATE_ID], approve: 'human', approvals: 2 },
          { subject: 'selfish', surface: 'notes', action: 'publish', gates: [GATE_ID], approve: 'human', approvals: 1 },
          { subject: 'k8s:system:serviceaccount:ns:bot', surface: 'notes', action: 'purge', gates: [GATE_ID], approve: 'auto' },
        ];
      },
    });
    gate = await startGate(gws);
    arbiter = await startArbiterProcess(aws);
  });
  after(async () => { await gate?.stop(); await arbiter?.stop(); await origin?.close(); });

  it('a denial names permit_request; an auto grant gives a permit the gate forwards with, under the same jti', async () => {
    const denied = await viaProxy(gws.listenPort, notesUrl(), { method: 'POST', body: '{"n":1}' });
    assert.equal(denied.json.reason, 'PERMIT_MISSING');
    assert.equal(denied.json.permit_request, 'http://127.0.0.1:1/v1/permits');
    const r = await api(aws, aws.tokens.agent, 'POST', '/v1/permits', ask({ txn: 'run-1' }));
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.decision, 'PERMIT');
    assert.ok(r.json.receipt && r.json.expires_at);
    const ok = await viaProxy(gws.listenPort, notesUrl(), { method: 'POST', body: '{"n":1}', headers: { 'egress-permit': r.json.permit } });
    assert.equal(ok.status, 200, ok.text);
    const entry = readLines(gws.receiptsDir).find((e) => e.kind === 'decision' && e.reason === 'PERMIT_VALID');
    assert.equal(entry.permit.jti, r.json.jti);
    const issued = readLines(aws.receiptsDir).find((e) => e.kind === 'issuance' && e.decision === 'PERMIT');
    assert.equal(issued.permit.jti, r.json.jti);
    assert.equal(issued.permit.sha256, sha(r.json.permit));
  });

  it('refusals: unauthenticated, no grant, unmatched, route deny, missing body digest; idempotent retries', async () => {
    assert.equal((await api(aws, 'nope', 'POST', '/v1/permits', ask())).json.reason, 'UNAUTHENTICATED');
    const ng = await api(aws, aws.tokens.other, 'POST', '/v1/permits', ask({ request: { method: 'POST', url: `http://api.it:${origin.port}/publish`, body_sha256: sha('x') } }));
    assert.equal(ng.status, 403); assert.equal(ng.json.reason, 'NO_GRANT');
    assert.equal((await api(aws, aws.tokens.agent, 'POST', '/v1/permits', ask({ request: { method: 'GET', url: 'http://nowhere.it/' } }))).json.reason, 'ROUTE_UNMATCHED');
    assert.equal((await api(aws, aws.tokens.agent, 'POST', '/v1/permits', ask({ request: { method: 'GET', url: `http://api.it:${origin.port}/secret` } }))).json.reason, 'ROUTE_DENY');
    assert.equal((await api(aws, aws.tokens.agent, 'POST', '/v1/permits', ask({ request: { method: 'POST', url: notesUrl() } }))).json.reason, 'REQUEST_INVALID');
    const a = await api(aws, aws.tokens.other, 'POST', '/v1/permits', ask({ idempotency_key: 'k-1' }));
    const b = await api(aws, aws.tokens.other, 'POST', '/v1/permits', ask({ idempotency_key: 'k-1' }));
    assert.equal(a.status, 201);
    assert.equal(b.json.permit, a.json.permit, 'the same answer, not a second permit');
  });

  it('rate limit: the fourth permit in the hour for one subject and grant is 429 with Retry-After', async () => {
    // agent:other has one permit (idempotent pair above); two more fit, then 429.
    for (let i = 0; i < 2; i++) assert.equal((await api(aws, aws.tokens.other, 'POST', '/v1/permits', ask())).status, 201);
    const r = await api(aws, aws.tokens.other, 'POST', '/v1/permits', ask());
    assert.equal(r.status, 429);
    assert.equal(r.json.reason, 'RATE_LIMITED');
    assert.ok(Number(r.headers.get('retry-after')) > 0);
  });

  const publish = (token: string, action = 'publish') => api(aws, token, 'POST', '/v1/permits', ask({ request: { method: 'POST', url: `http://api.it:${origin.port}/${action}`, body_sha256: sha('{"n":1}') }, reason: 'ship the release notes' }));

  it('human grant: PENDING with Retry-After, approved through the API, the poller gets the permit', async () => {
    const p = await publish(aws.tokens.agent as string);
    assert.equal(p.status, 202); assert.equal(p.json.decision, 'PENDING');
    assert.ok(Number(p.headers.get('retry-after')) > 0);
    const list = await api(aws, aws.tokens.alice, 'GET', '/v1/approvals');
    const w = list.json.waiting.find((x: any) => x.request_id === p.json.request_id);
    assert.equal(w.reason, 'ship the release notes'); assert.equal(w.subject, SUBJECT);
    assert.equal((await api(aws, aws.tokens.agent, 'GET', '/v1/approvals')).json.reason, 'NOT_AN_APPROVER');
    assert.equal((await api(aws, aws.tokens.agent, 'GET', p.json.poll)).status, 202);
    assert.equal((await api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true, note: 'ok' })).json.state, 'approved');
    const got = await api(aws, aws.tokens.agent, 'GET', p.json.poll);
    assert.equal(got.status, 200); assert.equal(got.json.decision, 'PERMIT');
    const claims = JSON.parse(Buffer.from(got.json.permit.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.apr, ['alice']);
    const fwd = await viaProxy(gws.listenPort, `http://api.it:${origin.port}/publish`, { method: 'POST', body: '{"n":1}', headers: { 'egress-permit': got.json.permit } });
    assert.equal(fwd.status, 200, fwd.text);
  });

  it('human grant approved through the CLI; another denied through the CLI', async () => {
    const p = await publish(aws.tokens.agent as string);
    const pend = cli(['arbiter', 'pending', '--url', aws.url, '--token', aws.tokens.bob as string]);
    assert.equal(pend.code, 0, pend.stderr); assert.match(pend.stdout, new RegExp(p.json.request_id));
    const ok = cli(['arbiter', 'approve', p.json.request_id, '--url', aws.url, '--token', aws.tokens.bob as string, '--note', 'fine']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await api(aws, aws.tokens.agent, 'GET', p.json.poll)).json.decision, 'PERMIT');
    const q = await publish(aws.tokens.agent as string);
    assert.equal(cli(['arbiter', 'deny', q.json.request_id, '--url', aws.url, '--token', aws.tokens.bob as string]).code, 0);
    const d = await api(aws, aws.tokens.agent, 'GET', q.json.poll);
    assert.equal(d.status, 403); assert.equal(d.json.reason, 'APPROVAL_DENIED');
  });

  it('two approvers: one is not enough, the same one twice is refused, a second distinct one issues; a caller cannot approve itself', async () => {
    const p = await publish(aws.tokens.agent as string, 'wipe');
    await api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true });
    assert.equal((await api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true })).json.reason, 'ALREADY_VOTED');
    assert.equal((await api(aws, aws.tokens.agent, 'GET', p.json.poll)).status, 202);
    await api(aws, aws.tokens.bob, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true });
    const got = await api(aws, aws.tokens.agent, 'GET', p.json.poll);
    assert.equal(got.json.decision, 'PERMIT');
    assert.deepEqual(JSON.parse(Buffer.from(got.json.permit.split('.')[1], 'base64url').toString()).apr, ['alice', 'bob']);
    const s = await publish(aws.tokens.selfish as string);
    assert.equal(s.status, 202);
    const self = await api(aws, aws.tokens.selfish, 'POST', `/v1/approvals/${s.json.request_id}`, { approve: true });
    assert.equal(self.status, 403); assert.equal(self.json.reason, 'SELF_APPROVAL');
  });

  it('JWT callers: a valid token maps to k8s:${sub}; wrong audience, expired, unknown key are 401', async () => {
    const jwt = async (key: ReturnType<typeof genKey>, claims: Record<string, unknown>, expS = 300) => new SignJWT({ aud: 'egress-arbiter', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer('https://kubernetes.default.svc').setSubject('system:serviceaccount:ns:bot')
      .setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + expS).sign(await importJWK(key.privateJwk as any, 'ES256'));
    const purge = ask({ request: { method: 'POST', url: `http://api.it:${origin.port}/purge`, body_sha256: sha('{}') } });
    const good = await api(aws, await jwt(clusterKey, {}), 'POST', '/v1/permits', purge);
    assert.equal(good.status, 201, JSON.stringify(good.json));
    assert.equal(JSON.parse(Buffer.from(good.json.permit.split('.')[1], 'base64url').toString()).sub, 'k8s:system:serviceaccount:ns:bot');
    for (const bad of [await jwt(clusterKey, { aud: 'someone-else' }), await jwt(clusterKey, {}, -120), await jwt(strangerKey, {})]) {
      const r = await api(aws, bad, 'POST', '/v1/permits', purge);
      assert.equal(r.status, 401); assert.equal(r.json.reason, 'UNAUTHENTICATED');
    }
  });

  it('pending requests survive a restart, and are approved after it', async () => {
    const p = await publish(aws.tokens.agent as string);
    await arbiter.stop();
    arbiter = await startArbiterProcess(aws);
    assert.ok((await api(aws, aws.tokens.alice, 'GET', '/v1/approvals')).json.waiting.some((w: any) => w.request_id === p.json.request_id));
    assert.equal((await api(aws, aws.tokens.agent, 'GET', p.json.poll)).status, 202);
    // The approval and polls racing it: one permit for the request, whoever asks first.
    const [, ...polls] = await Promise.all([
      api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${p.json.request_id}`, { approve: true }),
      ...[0, 1, 2].map(async (i) => { await new Promise((r) => setTimeout(r, i)); return api(aws, aws.tokens.agent, 'GET', p.json.poll); }),
    ]);
    const last = await api(aws, aws.tokens.agent, 'GET', p.json.poll);
    assert.equal(last.json.decision, 'PERMIT');
    for (const r of polls) if (r.json.decision === 'PERMIT') assert.equal(r.json.jti, last.json.jti);
    const issued = readLines(aws.receiptsDir).filter((e: any) => e.kind === 'issuance' && e.request_id === p.json.request_id && e.decision === 'PERMIT');
    assert.equal(issued.length, 1, 'exactly one permit issued for the approved request');
  });

  it('SDK: requestPermit waits out PENDING until approved; createPermitFetch sends through the gate with undici', async () => {
    const url = `http://api.it:${origin.port}/publish`;
    const approveSoon = (async () => {
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const w = (await api(aws, aws.tokens.alice, 'GET', '/v1/approvals')).json.waiting.find((x: any) => x.reason === 'sdk');
        if (w) return api(aws, aws.tokens.alice, 'POST', `/v1/approvals/${w.request_id}`, { approve: true });
      }
      return undefined;
    })();
    const p = await requestPermit({ arbiter: aws.url, token: aws.tokens.agent as string, gate: GATE_ID, method: 'POST', url, body: '{"n":1}', reason: 'sdk', signal: AbortSignal.timeout(20_000) });
    await approveSoon;
    assert.equal(JSON.parse(Buffer.from(p.permit.split('.')[1] as string, 'base64url').toString()).surface, 'notes');
    const ac = new AbortController();
    const waiting = requestPermit({ arbiter: aws.url, token: aws.tokens.agent as string, gate: GATE_ID, method: 'POST', url, body: '{"n":2}', reason: 'never', signal: ac.signal });
    setTimeout(() => ac.abort(new Error('gave up')), 300);
    await assert.rejects(waiting, /gave up/);
    const pf = createPermitFetch({ arbiter: aws.url, token: aws.tokens.agent as string, gate: GATE_ID, fetch: undiciFetch });
    const dispatcher = gateDispatcher({ proxyUrl: `http://127.0.0.1:${gws.listenPort}`, caPem: fs.readFileSync(gws.caCert, 'utf8') });
    const res = await pf(notesUrl(), { method: 'POST', body: '{"n":1}', dispatcher });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('egress-decision'), 'PERMIT');
    await dispatcher.close();
  });

  it('audit passes on real traffic, and names a permit signed with the arbiter key outside the arbiter', async () => {
    const args = ['audit', '--gate', gws.receiptsDir, '--gate-key', path.join(gws.dir, 'keys', 'receipts.private.jwk.json'), '--arbiter', aws.receiptsDir, '--arbiter-key', path.join(aws.dir, 'keys', 'receipts.jwks.json')];
    const ok = cli(args);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const forged = cli(['permit', 'issue', '--key', gws.issuerKeyPath, '--iss', ISS, '--aud', GATE_ID, '--sub', SUBJECT, '--surface', 'notes', '--action', 'create', '--method', 'POST', '--url', notesUrl(), '--body', writeBody(gws.dir), '--jti', 'forged-1']);
    assert.equal(forged.code, 0, forged.stderr);
    const used = await viaProxy(gws.listenPort, notesUrl(), { method: 'POST', body: '{"n":1}', headers: { 'egress-permit': forged.stdout.trim() } });
    assert.equal(used.status, 200);
    const bad = cli(args);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /NOT ISSUED: permit jti forged-1/);
  });
});

function writeBody(dir: string): string {
  const f = path.join(dir, 'body.json');
  fs.writeFileSync(f, '{"n":1}');
  return f;
}
