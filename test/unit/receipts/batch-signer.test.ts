/**
 * The signing worker produces exactly the bytes inline signing does (Ed25519 is
 * deterministic), and a log that signs in a worker verifies like any other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inlineSigner, workerSigner } from '../../../proxy/receipts/batch-signer.js';
import { chainLines } from '../../../proxy/receipts/chain-lines.js';
import { createReceiptSigner, decodeReceiptLine, lineHash } from '../../../proxy/receipts/receipt-codec.js';
import { ReceiptLog } from '../../../proxy/receipts/receipt-log.js';
import { verifyReceiptLog } from '../../../proxy/receipts/verify-log.js';
import { newPrivateJwk, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

describe('batch signer', () => {
  const signer = createReceiptSigner(newPrivateJwk('batch-1'));
  const job = {
    seq: 7, prev: 'abc', ts: '2026-11-26T00:00:00.000Z', gate: 'g-1',
    items: [
      { id: 'id-1', bodyJson: JSON.stringify({ kind: 'decision', decision: 'PERMIT', n: [1, 2] }) },
      { id: 'id-2', bodyJson: '{}' },
      { id: 'id-3', bodyJson: JSON.stringify({ kind: 'outcome', of: 'id-1', error: null }) },
    ],
  };

  it('chains lines exactly as JSON.stringify({v, id, seq, prev, ts, gate, ...body}) would', () => {
    const { lines, prev } = chainLines(signer, job);
    assert.equal(lines.length, 3);
    let p: string | null = 'abc';
    lines.forEach((l, i) => {
      const item = job.items[i]!;
      const expected = { v: 1, id: item.id, seq: 7 + i, prev: p, ts: job.ts, gate: 'g-1', ...JSON.parse(item.bodyJson) };
      assert.equal(Buffer.from(l.split('.')[1]!, 'base64url').toString('utf8'), JSON.stringify(expected));
      assert.deepEqual(decodeReceiptLine(l).payload, expected);
      p = lineHash(l);
    });
    assert.equal(prev, p);
  });

  it('the worker signs the same bytes as inline signing', async () => {
    const w = workerSigner(signer);
    try {
      assert.deepEqual(await w.sign(job), await inlineSigner(signer).sign(job));
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => w.sign({ ...job, seq: i })));
      many.forEach((r, i) => assert.deepEqual(r, chainLines(signer, { ...job, seq: i })));
    } finally {
      await w.close();
    }
  });

  it('refuses a signer it cannot hand to a worker', () => {
    assert.throws(() => workerSigner({ ...signer }), TypeError);
  });

  it('a log signing in a worker verifies, across concurrent appends', async () => {
    const dir = tmpDir('eg-batch-signer-');
    const log = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 1 << 20, gate: 'g', signInWorker: true });
    const got = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ kind: 'lifecycle', event: 'test', i })));
    assert.deepEqual(got.map((g) => g.seq).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    await log.close();
    const r = await verifyReceiptLog([dir], { keys: [signer.publicJwk] });
    assert.equal(r.ok, true, JSON.stringify(r));
  });
});
