/**
 * The v2 receipt log: entry and checkpoint shape, one checkpoint per commit that verifies with
 * the tlog primitives, rotation after commits, recovery of torn and unsealed tails (from the
 * node index and by re-reading), the folder lock, proofs, stop last, readAll.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ReceiptLog, ReceiptLogLockedError } from '../../../receipts/receipt-log.js';
import { CompactRange } from '../../../receipts/tlog/compact-range.js';
import { openCheckpoint } from '../../../receipts/tlog/checkpoint.js';
import { leafHash, merkleRoot, verifyConsistency } from '../../../receipts/tlog/merkle.js';
import { parseVerifierKey } from '../../../receipts/tlog/signed-note.js';
import { parseConsistencyAnswer, verifyTlogProof } from '../../../receipts/tlog/tlog-proof.js';
import { checkV2Log, logLines, newSigner, tmpDir, v2Lines } from '../../fixtures/receipts/receipt-fixtures.js';

const signer = newSigner('rk-log');
const T0 = Date.parse('2025-03-01T12:00:00.000Z');

function openLog(dir: string, extra: Partial<Parameters<typeof ReceiptLog.open>[0]> = {}): Promise<ReceiptLog> {
  return ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 64 * 1024 * 1024, gate: 'gate-1', clock: () => T0, ...extra });
}

describe('receipt-log v2', () => {
  it('writes {v: 2, id, seq, ts, gate, kind, …body} entries, each commit sealed by one checkpoint line', async () => {
    const dir = path.join(tmpDir(), 'receipts');
    const log = await openLog(dir);
    const a = await log.append({ kind: 'lifecycle', event: 'start' });
    const b = await log.append({ kind: 'decision', decision: 'DENY', reason: 'ROUTE_UNMATCHED' });
    const vkey = log.verifierKey;
    await log.close();
    assert.equal(fs.statSync(dir).mode & 0o777, 0o750);
    const [{ file, lines }] = logLines(dir) as [{ file: string; lines: string[] }];
    assert.equal(path.basename(file), 'receipts-000000000000.jsonl');
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    assert.equal(lines.length, 4); // entry, checkpoint, entry, checkpoint
    const e1 = JSON.parse(lines[2]!);
    assert.deepEqual(Object.keys(e1), ['v', 'id', 'seq', 'ts', 'gate', 'kind', 'decision', 'reason']);
    assert.equal(lines[0], JSON.stringify({ v: 2, id: a.id, seq: 0, ts: '2025-03-01T12:00:00.000Z', gate: 'gate-1', kind: 'lifecycle', event: 'start' }));
    assert.deepEqual([e1.seq, e1.id, b.seq], [1, b.id, 1]);
    const note = JSON.parse(lines[3]!).checkpoint as string;
    assert.equal(lines[3], JSON.stringify({ checkpoint: note }));
    const cp = openCheckpoint(note, vkey);
    assert.equal(cp.origin, 'egress-gate/gate-1');
    assert.equal(cp.size, 2);
    assert.ok(cp.root.equals(merkleRoot([leafHash(Buffer.from(lines[0]!)), leafHash(Buffer.from(lines[2]!))])));
    assert.match(note, /^egress-gate\/gate-1\n2\n[A-Za-z0-9+/]{43}=\n\n\u2014 egress-gate\/gate-1 [A-Za-z0-9+/]+=*\n$/);
    assert.equal(parseVerifierKey(vkey).name, 'egress-gate/gate-1');
    checkV2Log(dir, vkey);
  });

  it('refuses a body that sets a field the log owns', async () => {
    const log = await openLog(tmpDir());
    await assert.rejects(log.append({ kind: 'decision', seq: 5 }), TypeError);
    await assert.rejects(log.append({ kind: 'decision', v: 1 }), TypeError);
    await log.close();
  });

  for (const ownThread of [false, true]) it(`group commit (${ownThread ? 'writer thread' : 'inline'}): 100 concurrent appends, far fewer checkpoints and fsyncs, consecutive seqs`, async () => {
    const dir = tmpDir();
    let fsyncs = 0;
    const log = await openLog(dir, { ownThread, onFsync: (s) => { assert.ok(s >= 0); fsyncs++; } });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ kind: 'decision', i })));
    assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 100 }, (_, i) => i));
    assert.ok(fsyncs <= 10, `expected shared commits, got ${fsyncs} fsyncs for 100 appends`);
    assert.equal(new Set(results.map((r) => r.id)).size, 100);
    const vkey = log.verifierKey;
    await log.close();
    const { entries, checkpoints } = checkV2Log(dir, vkey);
    assert.equal(entries.length, 100);
    assert.equal(checkpoints.length, fsyncs);
  });

  it('rotates only after a commit: every file ends with a checkpoint; the tree continues across files and reopen', async () => {
    const dir = tmpDir();
    let log = await openLog(dir, { rotateBytes: 1500 });
    for (let i = 0; i < 8; i++) await log.append({ kind: 'decision', i });
    await log.close();
    log = await openLog(dir, { rotateBytes: 1500 });
    assert.equal(log.lastSeq, 7);
    assert.equal(log.openedVia, 'index');
    for (let i = 8; i < 12; i++) await log.append({ kind: 'decision', i });
    const vkey = log.verifierKey;
    await log.close();
    const files = logLines(dir);
    assert.ok(files.length >= 3, `expected rotation, got ${files.length} file(s)`);
    let seq = 0;
    for (const f of files) {
      assert.equal(path.basename(f.file), `receipts-${String(seq).padStart(12, '0')}.jsonl`);
      assert.ok(fs.statSync(f.file).size <= 1500);
      assert.ok(f.lines.at(-1)!.startsWith('{"checkpoint":'));
      seq += f.lines.filter((l) => !l.startsWith('{"checkpoint":')).length;
    }
    assert.equal(seq, 12);
    checkV2Log(dir, vkey);
  });

  for (const via of ['index', 'scan'] as const) {
    it(`recovery (${via}): a torn line and an unsealed commit after the last checkpoint are cut, and 'recovered' says so`, async () => {
      const dir = tmpDir();
      let log = await openLog(dir);
      for (let i = 0; i < 3; i++) await log.append({ kind: 'decision', i });
      const vkey = log.verifierKey;
      await log.close();
      if (via === 'scan') fs.rmSync(path.join(dir, '.tree'), { recursive: true });
      const file = path.join(dir, 'receipts-000000000000.jsonl');
      const intact = fs.readFileSync(file);
      // An unsealed commit: two whole entries without their checkpoint, then a torn fragment.
      const unsealed = `${JSON.stringify({ v: 2, id: 'x', seq: 3, ts: 't', gate: 'gate-1', kind: 'decision' })}\n${JSON.stringify({ v: 2, id: 'y', seq: 4, ts: 't', gate: 'gate-1', kind: 'decision' })}\n{"v":2,"id":"z","se`;
      fs.appendFileSync(file, unsealed);
      log = await openLog(dir);
      assert.equal(log.openedVia, via);
      assert.equal(log.recoveredBytes, Buffer.byteLength(unsealed));
      assert.equal(log.recoveredEntries, 2);
      assert.equal(log.lastSeq, 3); // the recovered entry
      await log.close();
      assert.deepEqual(fs.readFileSync(file).subarray(0, intact.length), intact);
      const { entries } = checkV2Log(dir, vkey);
      const rec = entries.at(-1)!.entry!;
      assert.deepEqual([rec.kind, rec.event, rec.bytes_dropped, rec.entries_dropped, rec.seq], ['lifecycle', 'recovered', Buffer.byteLength(unsealed), 2, 3]);
    });
  }

  it('recovery: a checkpoint that does not verify (forged, or under another origin) seals nothing', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    await log.append({ kind: 'decision' });
    const vkey = log.verifierKey;
    await log.close();
    const file = path.join(dir, 'receipts-000000000000.jsonl');
    const lines = logLines(dir)[0]!.lines;
    const entry = JSON.stringify({ v: 2, id: 'x', seq: 1, ts: 't', gate: 'gate-1', kind: 'decision' });
    // A checkpoint for size 2 signed with another key under the same name and key id: forged.
    const note = JSON.parse(lines[1]!).checkpoint as string;
    const forged = note.replace(/\n1\n[^\n]+\n/, `\n2\n${merkleRoot([leafHash(Buffer.from(lines[0]!)), leafHash(Buffer.from(entry))]).toString('base64')}\n`);
    const tail = `${entry}\n${JSON.stringify({ checkpoint: forged })}\n`;
    fs.appendFileSync(file, tail);
    log = await openLog(dir);
    assert.equal(log.recoveredBytes, Buffer.byteLength(tail));
    await log.close();
    checkV2Log(dir, vkey);
  });

  it('recovery refuses to cut more than 4 MiB', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await log.append({ kind: 'decision' });
    await log.close();
    fs.appendFileSync(path.join(dir, 'receipts-000000000000.jsonl'), `${'{"v":2}\n'.repeat(600_000)}`);
    await assert.rejects(openLog(dir), { code: 'RECEIPT_LOG_CORRUPT' });
  });

  it('a wrong node index is not trusted: the log is re-read and the index rebuilt', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    for (let i = 0; i < 5; i++) await log.append({ kind: 'decision', i });
    await log.close();
    const level0 = path.join(dir, '.tree', 'level-00');
    const b = fs.readFileSync(level0);
    b[4 * 32] = b[4 * 32]! ^ 1; // the last leaf's hash
    fs.writeFileSync(level0, b);
    log = await openLog(dir);
    assert.equal(log.openedVia, 'scan');
    const p = log.proof({ seq: 4 })!;
    assert.equal(verifyTlogProof(p, log.verifierKey).index, 4);
    await log.close();
  });

  it('an empty newest file (rotated just before a crash) continues the tree of the one before', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    await log.append({ kind: 'decision' });
    await log.close();
    fs.writeFileSync(path.join(dir, 'receipts-000000000001.jsonl'), '');
    log = await openLog(dir);
    const r = await log.append({ kind: 'decision' });
    const vkey = log.verifierKey;
    await log.close();
    assert.equal(r.seq, 1);
    checkV2Log(dir, vkey);
  });

  it('one writer per folder: a second open is refused while the first holds the lock; a stale lock is taken over', async () => {
    const dir = tmpDir();
    const first = await openLog(dir);
    await assert.rejects(openLog(dir), (e: Error) => e instanceof ReceiptLogLockedError && /in use by another .*pid \d+/.test(e.message));
    await first.append({ kind: 'decision' });
    await first.close();
    assert.equal(fs.existsSync(path.join(dir, '.lock')), false);
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: 2 ** 22 + 12345 })); // no such process
    const again = await openLog(dir);
    await again.close();
    // Our own pid left in the lock (a container restarted: the gate is pid 1 again) is stale too.
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: process.pid }));
    const own = await openLog(dir);
    await own.close();
    // A live process other than us holds it: refused, naming the pid.
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: process.ppid }));
    await assert.rejects(openLog(dir), new RegExp(`in use by another gate \\(pid ${process.ppid}`));
    fs.rmSync(path.join(dir, '.lock'));
  });

  it('proofs: inclusion for every entry by seq and id, consistency from every size, all verify with the tlog primitives', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { clock: Date.now });
    const appended: { id: string; seq: number }[] = [];
    const sizes: { size: number; root: Buffer }[] = [{ size: 0, root: new CompactRange().root() }];
    for (let round = 0; round < 6; round++) {
      appended.push(...(await Promise.all(Array.from({ length: round * 3 + 1 }, (_, i) => log.append({ kind: 'decision', round, i })))));
      const cp = openCheckpoint(log.checkpoint()!, log.verifierKey);
      sizes.push({ size: cp.size, root: cp.root });
    }
    const newest = openCheckpoint(log.checkpoint()!, log.verifierKey);
    assert.equal(newest.size, appended.length);
    for (const a of appended) {
      const v = verifyTlogProof(log.proof({ seq: a.seq })!, log.verifierKey);
      assert.equal(v.index, a.seq);
      assert.equal(JSON.parse(v.entry.toString()).id, a.id);
      assert.equal(log.proof({ id: a.id }), log.proof({ seq: a.seq }));
    }
    assert.equal(log.proof({ seq: appended.length }), undefined);
    assert.equal(log.proof({ id: '01890000-0000-7000-8000-000000000000' }), undefined);
    for (const old of sizes) {
      const { path: p, checkpoint } = parseConsistencyAnswer(log.consistency(old.size)!);
      assert.equal(checkpoint, log.checkpoint());
      assert.ok(verifyConsistency(old.size, newest.size, old.root, newest.root, p), `consistency from ${old.size}`);
    }
    assert.throws(() => log.consistency(newest.size + 1), RangeError);
    await log.close();
  });

  it('ids keep increasing across a restart with a clock that went back (lookup by id stays a binary search)', async () => {
    const dir = tmpDir();
    let log = await openLog(dir, { clock: () => T0 + 10_000 });
    const a = await log.append({ kind: 'decision' });
    await log.close();
    log = await openLog(dir, { clock: () => T0 });
    const b = await log.append({ kind: 'decision' });
    assert.ok(b.id > a.id);
    assert.ok(log.proof({ id: a.id }));
    assert.ok(log.proof({ id: b.id }));
    await log.close();
  });

  it('hold: nothing is written until release(first); abandon drops the held appends and frees the folder', async () => {
    const dir = tmpDir();
    let log = await openLog(dir, { hold: true });
    const held = log.append({ kind: 'lifecycle', event: 'policy' });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fs.statSync(path.join(dir, 'receipts-000000000000.jsonl')).size, 0);
    await log.abandon();
    await assert.rejects(held, { code: 'RECEIPT_UNAVAILABLE' });
    assert.equal(fs.statSync(path.join(dir, 'receipts-000000000000.jsonl')).size, 0);
    log = await openLog(dir, { hold: true });
    const policy = log.append({ kind: 'lifecycle', event: 'policy' });
    await log.release({ kind: 'lifecycle', event: 'start' });
    await policy;
    const vkey = log.verifierKey;
    await log.close();
    assert.deepEqual(checkV2Log(dir, vkey).entries.map((l) => l.entry!.event), ['start', 'policy']);
  });

  it('durability none resolves after the write without fsync', async () => {
    const dir = tmpDir();
    let fsyncs = 0;
    const log = await openLog(dir, { durability: 'none', onFsync: () => fsyncs++ });
    await Promise.all(Array.from({ length: 20 }, () => log.append({ kind: 'outcome' })));
    assert.equal(fsyncs, 0);
    assert.equal(v2Lines(dir).filter((l) => l.entry).length, 20);
    await log.close();
  });

  it('close(stop) writes stop last; appends made while it closes, or after, are ReceiptUnavailableError', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    const pending = log.append({ kind: 'decision' });
    const closing = log.close({ kind: 'lifecycle', event: 'stop' });
    const late = log.append({ kind: 'outcome' });
    await closing;
    await pending;
    await assert.rejects(late, { code: 'RECEIPT_UNAVAILABLE' });
    await assert.rejects(log.append({ kind: 'decision' }), { code: 'RECEIPT_UNAVAILABLE' });
    assert.deepEqual(v2Lines(dir).filter((l) => l.entry).map((l) => l.entry!.event ?? l.entry!.kind), ['decision', 'stop']);
  });

  it('proofs find entries in every rotated file, also files started after an earlier proof listed the folder', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { rotateBytes: 800, clock: Date.now });
    const appended: { id: string; seq: number }[] = [];
    for (let i = 0; i < 12; i++) {
      appended.push(await log.append({ kind: 'decision', i }));
      // A proof of the newest entry between appends: the next rotation starts a file this proof did not see.
      assert.equal(verifyTlogProof(log.proof({ seq: appended.at(-1)!.seq })!, log.verifierKey).index, appended.at(-1)!.seq);
    }
    assert.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length >= 4, 'the log spans several files');
    for (const a of appended) {
      const v = verifyTlogProof(log.proof({ id: a.id })!, log.verifierKey);
      assert.equal(JSON.parse(v.entry.toString()).id, a.id);
    }
    await log.close();
  });

  it('readAll yields every entry in log order, skipping checkpoint lines (for the replay store)', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { rotateBytes: 1000 });
    for (let i = 0; i < 6; i++) await log.append({ kind: 'decision', permit: { jti: `j${i}`, exp: 100 + i } });
    await log.close();
    const seen: unknown[] = [];
    for await (const p of ReceiptLog.readAll(dir)) seen.push((p.permit as { jti: string }).jti);
    assert.deepEqual(seen, ['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
  });
});
