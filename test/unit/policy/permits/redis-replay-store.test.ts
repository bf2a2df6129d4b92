/**
 * The Redis replay store against a real redis-server started on a free loopback port.
 * Skipped (with a message saying so) only when redis-server is not installed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RedisReplayStore } from '../../../../policy/permits/redis-replay-store.js';
import { replayStoreContract, T0_S } from './replay-store-contract.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    p.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return p;
}

async function stopRedis(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise<void>((r) => p.once('exit', () => r()));
  p.kill('SIGKILL');
  await gone;
}

describe('RedisReplayStore', () => {
  before(() => assert.ok(hasRedis, 'redis-server is not installed (apt-get install -y redis-server)'));
  let port = 0;
  let redis: ChildProcess;
  const stores: RedisReplayStore[] = [];
  const open = async (clock: () => number = () => T0_S * 1000): Promise<RedisReplayStore> => {
    const s = new RedisReplayStore(`redis://127.0.0.1:${port}/0`, { clock });
    stores.push(s);
    assert.equal(await s.init(2000), true, 'connected to redis-server');
    return s;
  };

  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
  });
  after(async () => {
    for (const s of stores) await s.close();
    await stopRedis(redis);
  });

  replayStoreContract((clock) => open(clock));

  it('two replicas sharing Redis: of 20 concurrent claims across both exactly one succeeds', async () => {
    const [a, b] = [await open(), await open()];
    const jti = randomUUID();
    const out = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim(jti, T0_S + 60, {})));
    assert.equal(out.filter((r) => r.ok).length, 1);
  });

  it('keys expire with the permit (exp + grace, on the gate clock)', async () => {
    const s = await open(() => Date.now());
    const jti = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + 1;
    assert.equal((await s.claim(jti, exp, {})).ok, true);
    assert.deepEqual(await s.claim(jti, exp, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await s.claim(jti, exp, {})).ok, true, 'the key expired with the permit');
  });

  it('Redis hung (SIGSTOP): claims reject with REPLAY_STORE_UNAVAILABLE within ~1 s', async () => {
    const s = await open();
    redis.kill('SIGSTOP');
    try {
      const t0 = performance.now();
      await assert.rejects(s.claim(randomUUID(), T0_S + 60, {}), { code: 'REPLAY_STORE_UNAVAILABLE' });
      assert.ok(performance.now() - t0 < 1000, `claim took ${Math.round(performance.now() - t0)} ms to fail`);
    } finally {
      redis.kill('SIGCONT');
    }
  });

  it('Redis stopped mid-run: claims reject with REPLAY_STORE_UNAVAILABLE within ~1 s, and recover when it returns', async () => {
    const s = await open();
    assert.equal((await s.claim(randomUUID(), T0_S + 60, {})).ok, true);
    await stopRedis(redis);
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await assert.rejects(s.claim(randomUUID(), T0_S + 60, {}), { code: 'REPLAY_STORE_UNAVAILABLE' });
      assert.ok(performance.now() - t0 < 1000, `claim took ${Math.round(performance.now() - t0)} ms to fail`);
    }
    await assert.rejects(s.finish('x', 'r'), { code: 'REPLAY_STORE_UNAVAILABLE' });
    assert.equal(s.ready(), false);
    redis = await startRedis(port);
    assert.equal(await s.init(3000), true, 'reconnected');
    assert.equal((await s.claim(randomUUID(), T0_S + 60, {})).ok, true);
  });

  it('an unreachable Redis from the start: claims reject at once', async () => {
    const s = new RedisReplayStore(`redis://127.0.0.1:${await freePort()}/0`);
    stores.push(s);
    const t0 = performance.now();
    await assert.rejects(s.claim('j', T0_S + 60, {}), { code: 'REPLAY_STORE_UNAVAILABLE' });
    assert.ok(performance.now() - t0 < 1000);
  });
});
