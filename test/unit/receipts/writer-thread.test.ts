/**
 * The receipt writer: entry lines are exactly the documented objects; a writer thread writes
 * the same bytes as an inline writer (ids and ts fixed; Ed25519 is deterministic, so the
 * checkpoints match too); a writer thread that dies fails the jobs it held (RECEIPT_UNAVAILABLE
 * upstream) and the next job starts a new one from the last state.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { entryLines } from '../../../receipts/entry-lines.js';
import { LogWriter, type WriterState } from '../../../receipts/log-writer.js';
import { createReceiptSigner } from '../../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { threadWriter, signingKeyOf } from '../../../receipts/writer-host.js';
import { createUuidV7 } from '../../../receipts/uuid-v7.js';
import { CompactRange } from '../../../receipts/tlog/compact-range.js';
import { verifierKey } from '../../../receipts/tlog/signed-note.js';
import { checkV2Log, newPrivateJwk, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

describe('receipt writer', () => {
  const signer = createReceiptSigner(newPrivateJwk('writer-1'));
  const key = signingKeyOf(signer);
  const ORIGIN = 'egress-gate/g-1';
  const vkey = verifierKey(ORIGIN, signer.publicKey);
  const job = {
    seq: 7, ts: '2026-11-26T00:00:00.000Z', gate: 'g-1',
    items: [
      { id: 'id-1', bodyJson: JSON.stringify({ kind: 'decision', decision: 'PERMIT', n: [1, 2] }) },
      { id: 'id-2', bodyJson: '{}' },
      { id: 'id-3', bodyJson: JSON.stringify({ kind: 'outcome', of: 'id-1', error: null }) },
    ],
  };
  const options = (dir: string) => ({ dir, durability: 'fsync' as const, rotateBytes: 1 << 20, gate: 'g-1', origin: ORIGIN });
  const fresh = (dir: string): WriterState => ({ file: path.join(dir, 'receipts-000000000000.jsonl'), size: 0, tree: new CompactRange().toJSON(), checkpoint: null, dirty: false, indexOk: true });

  it('forms entries exactly as JSON.stringify({v: 2, id, seq, ts, gate, ...body}) would', () => {
    const lines = entryLines(job);
    assert.equal(lines.length, 3);
    lines.forEach((l, i) => {
      const item = job.items[i]!;
      assert.equal(l, JSON.stringify({ v: 2, id: item.id, seq: 7 + i, ts: job.ts, gate: 'g-1', ...JSON.parse(item.bodyJson) }));
    });
  });

  it('the writer thread writes the same bytes as an inline writer, merging jobs into fewer commits', async () => {
    const a = tmpDir('eg-writer-a-');
    const b = tmpDir('eg-writer-b-');
    const jobs = Array.from({ length: 20 }, (_, i) => ({ ts: job.ts, items: job.items.map((x) => ({ ...x, id: `${x.id}-${i}` })) }));
    // The inline writer commits the jobs as the thread merged them: first alone, then the rest.
    const t = threadWriter(signer, options(b), fresh(b), 4096);
    let got;
    try {
      got = await Promise.all(jobs.map((j) => t.submit(j)));
    } finally {
      await t.close();
    }
    const groups: number[][] = [];
    got.forEach((r, i) => {
      const last = groups.at(-1);
      if (last && got[last[0]!]!.state.size === r.state.size) last.push(i);
      else groups.push([i]);
    });
    assert.ok(groups.length < jobs.length, `jobs were merged: ${groups.length} commits for ${jobs.length} jobs`);
    const inline = new LogWriter(options(a), key, fresh(a));
    const firsts = groups.flatMap((g) => inline.commit(g.map((i) => jobs[i]!)));
    inline.close();
    assert.deepEqual(got.map((r) => r.ok && r.first), firsts.map((r) => r.ok && r.first));
    assert.deepEqual(got.at(-1)!.state, { ...firsts.at(-1)!.state, file: fresh(b).file });
    assert.equal(fs.readFileSync(fresh(b).file, 'utf8'), fs.readFileSync(fresh(a).file, 'utf8'));
    for (const n of fs.readdirSync(path.join(a, '.tree'))) {
      assert.deepEqual(fs.readFileSync(path.join(b, '.tree', n)), fs.readFileSync(path.join(a, '.tree', n)), `node index ${n}`);
    }
    const { entries, checkpoints } = checkV2Log(a, vkey);
    assert.equal(entries.length, 60);
    assert.equal(checkpoints.length, groups.length);
  });

  it('a failed commit restores the tree: the next commit reuses its seqs and seals only itself', () => {
    const dir = tmpDir('eg-writer-fail-');
    const w = new LogWriter(options(dir), key, fresh(dir));
    assert.equal(w.commit([{ ts: job.ts, items: job.items }])[0]!.ok, true);
    // A body that is not an object's JSON cannot make the checkpoint fail; a bad key can.
    const bad = new LogWriter(options(dir), signer.publicKey as never, w.state);
    const failed = bad.commit([{ ts: job.ts, items: job.items }])[0]!;
    bad.close();
    assert.equal(failed.ok, false);
    assert.equal(failed.state.tree.size, 3);
    const next = w.commit([{ ts: job.ts, items: job.items.slice(0, 1) }])[0]!;
    w.close();
    assert.equal(next.ok && next.first, 3);
    assert.equal(checkV2Log(dir, vkey).entries.length, 4);
  });

  it('a writer thread that dies fails its jobs; the next job starts a new thread that continues the tree', async () => {
    const missing = tmpDir('eg-writer-dies-');
    const t = threadWriter(signer, options(missing), fresh(missing), 4096);
    try {
      // The log file's name is taken by a folder: the thread cannot open the file and dies.
      fs.mkdirSync(fresh(missing).file);
      const failed = await t.submit({ ts: job.ts, items: job.items });
      assert.equal(failed.ok, false);
      assert.match(!failed.ok ? failed.error : '', /receipt writer (failed|exited)/);
      fs.rmdirSync(fresh(missing).file);
      const ok = await t.submit({ ts: job.ts, items: job.items });
      assert.equal(ok.ok, true);
      assert.equal(ok.ok && ok.first, 0);
      assert.equal(ok.state.tree.size, 3);
    } finally {
      await t.close();
    }
    checkV2Log(missing, vkey);
  });

  it('restarted from the last acknowledged state, a writer drops what a dead thread wrote past it, rotated files and index too', async () => {
    const dir = tmpDir('eg-writer-restart-');
    const opts = { ...options(dir), rotateBytes: 2500 };
    const uuid = createUuidV7();
    const batch = () => ({ ts: job.ts, items: [1, 2, 3].map((i) => ({ id: uuid(), bodyJson: JSON.stringify({ kind: 'lifecycle', event: 'test', i }) })) });
    const w1 = new LogWriter(opts, key, fresh(dir));
    const acked = w1.commit([batch()])[0]!;
    assert.equal(acked.ok, true);
    // What the thread did before dying, unacknowledged: more commits, then a new file.
    for (let i = 0; i < 6; i++) w1.commit([batch()]);
    w1.close();
    const before = fs.readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
    assert.ok(before.length > 1, `the dead writer had rotated: ${before.join(', ')}`);
    const w2 = new LogWriter(opts, key, { ...acked.state, dirty: true });
    const next = w2.commit([batch()])[0]!;
    w2.close();
    assert.equal(next.ok && next.first, acked.state.tree.size, 'the tree continues from the acknowledged commit');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => !n.startsWith('.')), ['receipts-000000000000.jsonl'], 'the file started after it is gone');
    assert.equal(fs.statSync(path.join(dir, '.tree', 'level-00')).size, 6 * 32, 'the index holds the 6 sealed leaves only');
    assert.equal(checkV2Log(dir, vkey).entries.length, 6);
  });

  it('refuses a signer it cannot hand to a thread', () => {
    assert.throws(() => threadWriter({ ...signer }, options('/nonexistent'), fresh('/nonexistent'), 1), TypeError);
  });

  it('a log writing on its own thread verifies, across concurrent appends and reopen', async () => {
    const dir = tmpDir('eg-writer-log-');
    let vk = '';
    for (let round = 0; round < 2; round++) {
      const log = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 4096, gate: 'g', ownThread: true });
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ kind: 'lifecycle', event: 'test', i })));
      assert.deepEqual(got.map((g) => g.seq).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + round * 100));
      assert.equal(log.lastSeq, 99 + round * 100);
      vk = log.verifierKey;
      await log.close();
    }
    checkV2Log(dir, vk);
    assert.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length > 1, 'rotated into several files');
  });
});
