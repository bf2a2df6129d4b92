/**
 * replay: redis:// through the gate as a process, against a real redis-server the test
 * starts on a loopback port: a single-use permit is spent once across two gate replicas
 * sharing the store, and with Redis stopped mid-run single-use routes answer
 * SILENCE REPLAY_STORE_UNAVAILABLE while the origin sees nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  adminGet, freePort, permitClaims, signPermit, startGate, startOrigin, tmpDir, viaProxy, workspace,
  type GateProcess, type GateWorkspace, type Origin,
} from './harness.js';

async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

describe('replay store in Redis, through two gate replicas', () => {
  let origin: Origin;
  let ws1: GateWorkspace;
  let ws2: GateWorkspace;
  let g1: GateProcess;
  let g2: GateProcess;
  let redis: ChildProcess | undefined;
  let port = 0;

  before(async () => {
    assert.equal(spawnSync('redis-server', ['--version']).status, 0, 'this test needs redis-server (Debian package redis-server)');
    origin = await startOrigin();
    port = await freePort();
    redis = await startRedis(port, tmpDir('eg-redis-'));
    const routes = { routes: [{ surface: 'orders', action: 'create', match: { scheme: 'http', host: 'api.it', port: origin.port, method: 'POST', path: '/o' }, authorize: 'permit' }] };
    const useRedis = (c: Record<string, any>) => { c.permits.replay = `redis://127.0.0.1:${port}/0`; };
    ws1 = await workspace({ routes, config: useRedis });
    ws2 = await workspace({ routes, config: useRedis });
    // Both replicas trust the same issuer.
    fs.copyFileSync(path.join(ws1.dir, 'keys', 'issuer.jwks.json'), path.join(ws2.dir, 'keys', 'issuer.jwks.json'));
    g1 = await startGate(ws1);
    g2 = await startGate(ws2);
  });
  after(async () => { await g1?.stop(); await g2?.stop(); redis?.kill('SIGKILL'); await origin?.close(); });

  const post = (ws: GateWorkspace, token: string) => {
    const id = crypto.randomUUID();
    return viaProxy(ws.listenPort, `http://api.it:${origin.port}/o`, { method: 'POST', body: '{}', headers: { 'egress-permit': token, 'x-test-id': id } })
      .then((r) => ({ r, id }));
  };
  const seen = (id: string) => origin.requests.filter((q) => q.headers['x-test-id'] === id).length;
  const token = () => signPermit(ws1.issuer, permitClaims({ surface: 'orders', action: 'create', htm: 'POST', htu: `http://api.it:${origin.port}/o` }));

  it('a permit spent at one replica is replayed at the other', async () => {
    const t = token();
    const a = await post(ws1, t);
    assert.equal(a.r.status, 200, a.r.text);
    const b = await post(ws2, t);
    assert.equal(b.r.status, 403);
    assert.equal(b.r.json.reason, 'PERMIT_REPLAYED');
    assert.equal(seen(b.id), 0);
  });

  it('concurrent use of one permit across both replicas: exactly one reaches the origin', async () => {
    const t = token();
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => post(i % 2 ? ws1 : ws2, t)));
    assert.equal(all.filter(({ r }) => r.status === 200).length, 1);
    assert.equal(all.reduce((n, { id }) => n + seen(id), 0), 1);
  });

  it('Redis stopped mid-run: SILENCE REPLAY_STORE_UNAVAILABLE, the origin untouched, readiness says so', async () => {
    redis!.kill('SIGKILL');
    await new Promise((r) => redis!.once('exit', r));
    const t0 = Date.now();
    const { r, id } = await post(ws1, token());
    assert.ok(Date.now() - t0 < 3000, `answered in ${Date.now() - t0} ms`);
    assert.equal(r.status, 503);
    assert.equal(r.json.decision, 'SILENCE');
    assert.equal(r.json.reason, 'REPLAY_STORE_UNAVAILABLE');
    assert.ok(r.headers['retry-after']);
    assert.equal(seen(id), 0);
    assert.equal((await adminGet(ws1.adminPort, '/readyz')).status, 503);
  });
});
