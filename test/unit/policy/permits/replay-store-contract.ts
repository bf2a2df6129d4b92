/**
 * The behaviour every ReplayStore must show (SPEC §5), run against the memory and the Redis
 * store alike. `make` returns a fresh, empty store whose clock is `clock`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { ReplayStore } from '../../../../policy/permits/replay-store.js';

export const T0_S = 1_800_000_000;

export function replayStoreContract(make: (clock: () => number) => Promise<ReplayStore>): void {
  const clock = () => T0_S * 1000;
  const exp = T0_S + 60;

  it('spends a jti on its first claim: the second is PERMIT_REPLAYED, also after finish', async () => {
    const s = await make(clock);
    const jti = randomUUID();
    assert.deepEqual(await s.claim(jti, exp, {}), { ok: true, attempt: 1 });
    assert.deepEqual(await s.claim(jti, exp, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    await s.finish(jti, 'r-1');
    assert.deepEqual(await s.claim(jti, exp, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    // A permit with idk presented without the matching Idempotency-Key is not a retry.
    assert.deepEqual(await s.claim(jti, exp, { idk: 'k', idempotencyKey: 'other' }), { ok: false, reason: 'PERMIT_REPLAYED' });
    await s.close();
  });

  it('of 20 concurrent claims of one jti exactly one succeeds', async () => {
    const s = await make(clock);
    const jti = randomUUID();
    const out = await Promise.all(Array.from({ length: 20 }, () => s.claim(jti, exp, {})));
    assert.equal(out.filter((r) => r.ok).length, 1);
    assert.ok(out.every((r) => r.ok || r.reason === 'PERMIT_REPLAYED'));
    await s.close();
  });

  it('idk retries: 4 attempts after each finished, the 5th refused; a concurrent one is PERMIT_IN_FLIGHT', async () => {
    const s = await make(clock);
    const jti = randomUUID();
    const o = { idk: 'idem-1', idempotencyKey: 'idem-1' };
    assert.deepEqual(await s.claim(jti, exp, o), { ok: true, attempt: 1 });
    assert.deepEqual(await s.claim(jti, exp, o), { ok: false, reason: 'PERMIT_IN_FLIGHT' }, 'while attempt 1 is in flight');
    await s.finish(jti, 'receipt-1');
    for (let attempt = 2; attempt <= 4; attempt++) {
      const concurrent = await Promise.all([s.claim(jti, exp, o), s.claim(jti, exp, o)]);
      assert.deepEqual(concurrent.filter((r) => r.ok), [{ ok: true, attempt, retryOf: `receipt-${attempt - 1}` }]);
      assert.deepEqual(concurrent.filter((r) => !r.ok), [{ ok: false, reason: 'PERMIT_IN_FLIGHT' }]);
      await s.finish(jti, `receipt-${attempt}`);
    }
    assert.deepEqual(await s.claim(jti, exp, o), { ok: false, reason: 'PERMIT_REPLAYED' }, 'the 5th attempt');
    await s.close();
  });

  it('finish without a receipt keeps the previous retryOf', async () => {
    const s = await make(clock);
    const jti = randomUUID();
    const o = { idk: 'k', idempotencyKey: 'k' };
    await s.claim(jti, exp, o);
    await s.finish(jti, 'receipt-a');
    await s.claim(jti, exp, o);
    await s.finish(jti, '');
    assert.deepEqual(await s.claim(jti, exp, o), { ok: true, attempt: 3, retryOf: 'receipt-a' });
    await s.close();
  });

  it('rebuild restores spent jtis and attempt counts', async () => {
    const s = await make(clock);
    const [a, b, old] = [randomUUID(), randomUUID(), randomUUID()];
    await s.rebuild?.([
      { jti: a, exp, receiptId: 'ra-1' },
      { jti: b, exp, receiptId: 'rb-1' },
      { jti: b, exp, receiptId: 'rb-2' },
      { jti: b, exp, receiptId: 'rb-3' },
      { jti: old, exp: T0_S - 10, receiptId: 'old' },
    ]);
    assert.deepEqual(await s.claim(a, exp, {}), { ok: false, reason: 'PERMIT_REPLAYED' });
    assert.deepEqual(await s.claim(a, exp, { idk: 'k', idempotencyKey: 'k' }), { ok: true, attempt: 2, retryOf: 'ra-1' });
    assert.deepEqual(await s.claim(b, exp, { idk: 'k', idempotencyKey: 'k' }), { ok: true, attempt: 4, retryOf: 'rb-3' });
    await s.finish(b, 'rb-4');
    assert.deepEqual(await s.claim(b, exp, { idk: 'k', idempotencyKey: 'k' }), { ok: false, reason: 'PERMIT_REPLAYED' });
    assert.deepEqual(await s.claim(old, T0_S + 60, {}), { ok: true, attempt: 1 }, 'an expired entry is not restored');
    await s.close();
  });
}
