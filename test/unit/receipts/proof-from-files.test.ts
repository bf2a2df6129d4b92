/**
 * proof-from-files: the paths computed by one streaming pass over the files equal those of the
 * tlog primitives over every leaf hash held in memory, for every index and every (m, n) of
 * logs of every size up to 40 split into commits and files; and the newest checkpoint is found
 * reading backwards past an unsealed or torn tail and across long lines.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { newestCheckpoint } from '../../../receipts/newest-checkpoint.js';
import { consistencyFromFiles, inclusionFromFiles, ProofError } from '../../../receipts/proof-from-files.js';
import { consistencyPath, inclusionPath, MemoryNodeSource, verifyInclusion } from '../../../receipts/tlog/merkle.js';
import { V2LogBuilder } from '../../fixtures/receipts/v2-log.js';

/** A log of n entries, commits of 1, 2, 3… entries, a new file every 3 commits. */
function logOf(n: number): V2LogBuilder {
  const b = new V2LogBuilder();
  let commitSize = 1;
  let commits = 0;
  while (b.nextSeq < n) {
    for (let i = 0; i < commitSize && b.nextSeq < n; i++) b.entry('lifecycle', { event: 'policy', n: b.nextSeq });
    b.commit();
    if (++commits % 3 === 0 && b.nextSeq < n) b.rotate();
    commitSize = (commitSize % 4) + 1;
  }
  return b;
}

describe('proof-from-files', () => {
  it('inclusion paths equal the in-memory ones for every index of logs of size 1..40', async () => {
    for (let n = 1; n <= 40; n++) {
      const b = logOf(n);
      const mem = new MemoryNodeSource(b.leaves);
      for (let i = 0; i < n; i++) {
        const p = await inclusionFromFiles(b.files, { seq: i });
        assert.deepEqual(p.path, inclusionPath(mem, i, n), `n ${n} i ${i}`);
        assert.equal(p.size, n);
        assert.equal(p.checkpoint, b.checkpoints.at(-1));
        assert.ok(verifyInclusion(i, n, b.leaves[i]!, p.path, Buffer.from(p.checkpoint.split('\n')[2]!, 'base64')), `n ${n} i ${i} verifies`);
      }
    }
  });

  it('finds an entry by id', async () => {
    const b = logOf(9);
    const line = b.files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n')).find((l) => l.includes('"seq":6,'))!;
    const id = (JSON.parse(line) as { id: string }).id;
    const p = await inclusionFromFiles(b.files, { id });
    assert.equal(p.index, 6);
    assert.equal(p.entryBytes.toString('utf8'), line);
    await assert.rejects(inclusionFromFiles(b.files, { id: '01972b5d-0000-7000-8000-000000000000' }), (e: Error) => e instanceof ProofError && e.code === 'UNKNOWN_ENTRY');
    await assert.rejects(inclusionFromFiles(b.files, { seq: 9 }), (e: Error) => e instanceof ProofError && e.code === 'NOT_SEALED');
  });

  it('consistency paths equal the in-memory ones for every 0 <= m <= n <= 24', async () => {
    for (let n = 0; n <= 24; n++) {
      const b = logOf(Math.max(n, 1));
      const mem = new MemoryNodeSource(b.leaves);
      for (let m = 0; m <= n; m++) assert.deepEqual(await consistencyFromFiles(b.files, m, n), consistencyPath(mem, m, n), `m ${m} n ${n}`);
    }
    await assert.rejects(consistencyFromFiles(logOf(3).files, 4, 3), (e: Error) => e instanceof ProofError && e.code === 'BAD_SIZE');
  });

  it('proves against the newest checkpoint, past an unsealed tail, a torn line and lines longer than a read block', async () => {
    const b = new V2LogBuilder();
    b.entry('lifecycle', { event: 'start', pad: 'x'.repeat(200_000) });
    b.commit();
    b.entry('lifecycle', { event: 'policy', pad: 'y'.repeat(150_000) });
    b.entry('lifecycle', { event: 'policy' });
    b.commit();
    const sealed = b.checkpoints.at(-1)!;
    const file = b.files[0]!;
    fs.appendFileSync(file, `${JSON.stringify({ v: 2, id: '01972b5d-0000-7000-8000-000000000000', seq: 3, ts: 'x', gate: 'g', kind: 'lifecycle', pad: 'z'.repeat(100_000) })}\n{"v":2,"torn`);
    assert.deepEqual(await newestCheckpoint(b.files), { file, note: sealed, size: 3 });
    const p = await inclusionFromFiles(b.files, { seq: 1 });
    assert.deepEqual(p.path, inclusionPath(new MemoryNodeSource(b.leaves), 1, 3));
    assert.equal(await newestCheckpoint([]), undefined);
  });
});
