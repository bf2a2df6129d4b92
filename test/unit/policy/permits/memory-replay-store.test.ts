import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryReplayStore } from '../../../../policy/permits/memory-replay-store.js';
import { replayStoreContract, T0_S } from './replay-store-contract.js';

describe('MemoryReplayStore', () => {
  replayStoreContract(async (clock) => new MemoryReplayStore({ clock }));

  it('survives a restart through rebuild from the receipt log entries', async () => {
    const clock = () => T0_S * 1000;
    const before = new MemoryReplayStore({ clock });
    const log: { jti: string; exp: number; receiptId: string }[] = [];
    for (const jti of ['j1', 'j2']) {
      assert.equal((await before.claim(jti, T0_S + 60, {})).ok, true);
      await before.finish(jti, `r-${jti}`);
      log.push({ jti, exp: T0_S + 60, receiptId: `r-${jti}` });
    }
    await before.close();
    const after = new MemoryReplayStore({ clock });
    await after.rebuild(log);
    assert.deepEqual(await after.claim('j1', T0_S + 60, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    assert.deepEqual(await after.claim('j2', T0_S + 60, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
  });

  it('forgets a jti only after exp + grace', async () => {
    let now = T0_S;
    const s = new MemoryReplayStore({ clock: () => now * 1000, graceS: 5 });
    await s.claim('j', T0_S + 10, {});
    now = T0_S + 14;
    assert.deepEqual(await s.claim('j', T0_S + 10, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    now = T0_S + 15;
    assert.deepEqual(await s.claim('j', T0_S + 10, {}), { ok: true, attempt: 1 });
  });

  it('when full of unexpired jtis refuses with REPLAY_STORE_UNAVAILABLE instead of forgetting one', async () => {
    let now = T0_S;
    const s = new MemoryReplayStore({ clock: () => now * 1000, maxEntries: 3 });
    for (const j of ['a', 'b', 'c']) await s.claim(j, T0_S + 10, {});
    await assert.rejects(s.claim('d', T0_S + 10, {}), { code: 'REPLAY_STORE_UNAVAILABLE' });
    assert.equal(s.ready(), false);
    assert.deepEqual(await s.claim('a', T0_S + 10, {}), { ok: false, reason: 'PERMIT_REPLAYED' }, 'spent jtis are kept');
    now = T0_S + 11;
    assert.deepEqual(await s.claim('d', T0_S + 60, {}), { ok: true, attempt: 1 }, 'expired entries make room');
    assert.equal(s.size, 1);
  });
});
