/**
 * The console's reading of the receipt files (proxy/observe/console/log-history.ts) over a
 * real receipt log that rotates: the newest decisions first with their outcomes joined, pages
 * of older ones by seq across files, one decision by id with its outcomes, and an idempotency
 * key never shown.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ReceiptLog } from '../../../../../receipts/receipt-log.js';
import { listLogFiles } from '../../../../../receipts/log-lines.js';
import { decisionById, decisionsBefore } from '../../../../../proxy/observe/console/log-history.js';
import { newSigner, tmpDir } from '../../../../fixtures/receipts/receipt-fixtures.js';

const decision = (i: number) => ({
  kind: 'decision' as const, request: { method: 'GET', url: `http://open.test/p/${i}`, query_sha256: null, body_sha256: null, idempotency_key: i === 3 ? 'IDK-SECRET' : null },
  surface: 'public', action: 'read', decision: i % 2 ? 'DENY' : 'PERMIT', reason: i % 2 ? 'ROUTE_DENY' : 'NO_PERMIT_REQUIRED', enforced: true,
});

describe('log-history', () => {
  it('pages decisions newest first across rotated files, joins outcomes, finds one by id', async () => {
    const dir = path.join(tmpDir(), 'receipts');
    const log = await ReceiptLog.open({ dir, signer: newSigner('rk-console'), durability: 'none', rotateBytes: 4096, gate: 'g', clock: Date.now });
    const ids: { id: string; seq: number }[] = [];
    for (let i = 0; i < 30; i++) {
      const d = await log.append(decision(i));
      ids.push(d);
      if (i % 2 === 0) await log.append({ kind: 'outcome', of: d.id, status: 200 + i, bytes_up: 1, bytes_down: i, duration_ms: 1, error: null });
    }
    await log.close();
    assert.ok((await listLogFiles(dir)).length > 2, 'the log rotated');

    const first = await decisionsBefore(dir, undefined, 4);
    assert.deepEqual(first.map((r) => r.url), ['http://open.test/p/29', 'http://open.test/p/28', 'http://open.test/p/27', 'http://open.test/p/26']);
    assert.deepEqual(first[1]!.outcome, { status: 228, bytes_up: 1, bytes_down: 28, ms: 1, error: null });
    assert.equal(first[0]!.outcome, null);
    assert.equal(first[0]!.reason, 'ROUTE_DENY');

    const all: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await decisionsBefore(dir, before, 7);
      if (page.length === 0) break;
      all.push(...page.map((r) => r.receipt));
      before = page.at(-1)!.seq;
    }
    assert.deepEqual(all, ids.map((d) => d.id).reverse(), 'every decision once, in order, across files');

    const one = await decisionById(dir, ids[4]!.id);
    assert.equal(one?.entry.seq, ids[4]!.seq);
    assert.deepEqual(one?.outcomes.map((o) => o.status), [204]);
    const idk = await decisionById(dir, ids[3]!.id);
    assert.equal((idk?.entry.request as { idempotency_key: unknown }).idempotency_key, '(present, not shown)');
    assert.ok(!JSON.stringify(idk).includes('IDK-SECRET'));
    assert.equal(await decisionById(dir, '01a23853-c037-71a0-b162-28534fd4e2bf'), undefined);
  });
});
