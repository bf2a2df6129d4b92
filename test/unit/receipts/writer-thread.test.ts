/**
 * The receipt writer: chained lines are exactly the documented payloads; a log whose writer
 * runs on its own thread verifies like any other; a writer thread that dies fails the jobs it
 * held (RECEIPT_UNAVAILABLE upstream) and the next job starts a new one from the last state.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { chainLines } from '../../../receipts/chain-lines.js';
import { LogWriter } from '../../../receipts/log-writer.js';
import { createReceiptSigner, decodeReceiptLine, lineHash } from '../../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { threadWriter } from '../../../receipts/writer-host.js';
import { createUuidV7 } from '../../../receipts/uuid-v7.js';
import { verifyReceiptLog } from '../../../receipts/verify-log.js';
import { newPrivateJwk, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

describe('receipt writer', () => {
  const signer = createReceiptSigner(newPrivateJwk('writer-1'));
  const job = {
    seq: 7, prev: 'abc', ts: '2026-11-26T00:00:00.000Z', gate: 'g-1',
    items: [
      { id: 'id-1', bodyJson: JSON.stringify({ kind: 'decision', decision: 'PERMIT', n: [1, 2] }) },
      { id: 'id-2', bodyJson: '{}' },
      { id: 'id-3', bodyJson: JSON.stringify({ kind: 'outcome', of: 'id-1', error: null }) },
    ],
  };
  const options = (dir: string) => ({ dir, durability: 'fsync' as const, rotateBytes: 1 << 20, gate: 'g-1' });

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

  it('the writer thread writes the same bytes as an inline writer, merging jobs into commits', async () => {
    const a = tmpDir('eg-writer-a-');
    const b = tmpDir('eg-writer-b-');
    const state = (dir: string) => ({ file: path.join(dir, 'receipts-000000000000.jsonl'), size: 0, nextSeq: 0, prev: null, dirty: false });
    const jobs = Array.from({ length: 20 }, (_, i) => ({ ts: job.ts, items: job.items.map((x) => ({ ...x, id: `${x.id}-${i}` })) }));
    const inline = new LogWriter(options(a), signer, state(a));
    const firsts = jobs.map((j) => inline.commit([j])[0]!);
    inline.close();
    const t = threadWriter(signer, options(b), state(b), 4096);
    try {
      const got = await Promise.all(jobs.map((j) => t.submit(j)));
      assert.deepEqual(got.map((r) => r.ok && r.first), firsts.map((r) => r.ok && r.first));
      assert.deepEqual(got.at(-1)!.state, { ...firsts.at(-1)!.state, file: state(b).file });
    } finally {
      await t.close();
    }
    assert.equal(fs.readFileSync(state(b).file, 'utf8'), fs.readFileSync(state(a).file, 'utf8'));
  });

  it('a writer thread that dies fails its jobs; the next job starts a new thread that continues the chain', async () => {
    const dir = tmpDir('eg-writer-dies-');
    const missing = path.join(dir, 'not-yet');
    const t = threadWriter(signer, options(missing), { file: path.join(missing, 'receipts-000000000000.jsonl'), size: 0, nextSeq: 0, prev: null, dirty: false }, 4096);
    try {
      // The folder does not exist: the thread cannot open the file and dies.
      const failed = await t.submit({ ts: job.ts, items: job.items });
      assert.equal(failed.ok, false);
      assert.match(!failed.ok ? failed.error : '', /receipt writer (failed|exited)/);
      fs.mkdirSync(missing);
      const ok = await t.submit({ ts: job.ts, items: job.items });
      assert.equal(ok.ok, true);
      assert.equal(ok.ok && ok.first, 0);
      assert.equal(ok.state.nextSeq, 3);
    } finally {
      await t.close();
    }
  });

  it('restarted from the last acknowledged state, a writer drops what a dead thread wrote past it, rotated files too', async () => {
    const dir = tmpDir('eg-writer-restart-');
    const opts = { ...options(dir), rotateBytes: 2500 };
    const first = path.join(dir, 'receipts-000000000000.jsonl');
    const uuid = createUuidV7();
    const batch = () => ({ ts: job.ts, items: [1, 2, 3].map((i) => ({ id: uuid(), bodyJson: JSON.stringify({ kind: 'lifecycle', event: 'test', i }) })) });
    const w1 = new LogWriter(opts, signer, { file: first, size: 0, nextSeq: 0, prev: null, dirty: false });
    const acked = w1.commit([batch()])[0]!;
    assert.equal(acked.ok, true);
    // What the thread did before dying, unacknowledged: more lines, then a new file.
    for (let i = 0; i < 3; i++) w1.commit([batch()]);
    w1.close();
    const before = fs.readdirSync(dir).sort();
    assert.ok(before.length > 1, `the dead writer had rotated: ${before.join(', ')}`);
    const w2 = new LogWriter(opts, signer, { ...acked.state, dirty: true });
    const next = w2.commit([batch()])[0]!;
    w2.close();
    assert.equal(next.ok && next.first, acked.state.nextSeq, 'the chain continues from the acknowledged line');
    assert.deepEqual(fs.readdirSync(dir), ['receipts-000000000000.jsonl'], 'the file started after it is gone');
    const r = await verifyReceiptLog([dir], { keys: [signer.publicJwk] });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.ok && r.count, acked.state.nextSeq + 3);
  });

  it('refuses a signer it cannot hand to a thread', () => {
    assert.throws(() => threadWriter({ ...signer }, options('/nonexistent'), { file: '/nonexistent/x', size: 0, nextSeq: 0, prev: null, dirty: false }, 1), TypeError);
  });

  it('a log writing on its own thread verifies, across concurrent appends and reopen', async () => {
    const dir = tmpDir('eg-writer-log-');
    for (let round = 0; round < 2; round++) {
      const log = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 4096, gate: 'g', ownThread: true });
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ kind: 'lifecycle', event: 'test', i })));
      assert.deepEqual(got.map((g) => g.seq).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + round * 100));
      assert.equal(log.lastSeq, 99 + round * 100);
      await log.close();
    }
    const r = await verifyReceiptLog([dir], { keys: [signer.publicJwk] });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.ok(r.ok && r.files.length > 1, 'rotated into several files');
  });
});
