import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { lineHash } from '../../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { verifyReceiptLog } from '../../../receipts/verify-log.js';
import { logLines, newSigner, payloadOf, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

const signer = newSigner('rk-log');
const jwks = { keys: [signer.publicJwk] };
const T0 = Date.parse('2025-03-01T12:00:00.000Z');

function openLog(dir: string, extra: Partial<Parameters<typeof ReceiptLog.open>[0]> = {}): Promise<ReceiptLog> {
  return ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 64 * 1024 * 1024, gate: 'gate-1', clock: () => T0, ...extra });
}

describe('receipt-log', () => {
  it('writes v, id, seq, prev, ts, gate, kind then the body; prev hashes the previous line', async () => {
    const dir = path.join(tmpDir(), 'receipts');
    const log = await openLog(dir);
    const a = await log.append({ kind: 'lifecycle', event: 'start' });
    const b = await log.append({ kind: 'decision', decision: 'DENY', reason: 'ROUTE_UNMATCHED' });
    await log.close();
    assert.equal(fs.statSync(dir).mode & 0o777, 0o750);
    const [{ file, lines }] = logLines(dir) as [{ file: string; lines: string[] }];
    assert.equal(path.basename(file), 'receipts-000000000000.jsonl');
    assert.equal(fs.statSync(file).mode & 0o777, 0o640);
    const p0 = payloadOf(lines[0]!);
    const p1 = payloadOf(lines[1]!);
    assert.deepEqual(Object.keys(p1), ['v', 'id', 'seq', 'prev', 'ts', 'gate', 'kind', 'decision', 'reason']);
    assert.deepEqual([p0.seq, p0.prev, p0.id, p0.ts, p0.gate, p0.v], [0, null, a.id, '2025-03-01T12:00:00.000Z', 'gate-1', 1]);
    assert.deepEqual([p1.seq, p1.prev, p1.id], [1, lineHash(lines[0]!), b.id]);
    assert.deepEqual([a.seq, b.seq], [0, 1]);
  });

  it('refuses a body that sets a field the log owns', async () => {
    const log = await openLog(tmpDir());
    await assert.rejects(log.append({ kind: 'decision', seq: 5 }), TypeError);
    await log.close();
  });

  it('group commit: 100 concurrent appends, far fewer fsyncs, consecutive seqs', async () => {
    const dir = tmpDir();
    let fsyncs = 0;
    const log = await openLog(dir, { onFsync: (s) => { assert.ok(s >= 0); fsyncs++; } });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ kind: 'decision', i })));
    assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 100 }, (_, i) => i));
    assert.ok(fsyncs <= 10, `expected batched fsyncs, got ${fsyncs} for 100 appends`);
    assert.equal(new Set(results.map((r) => r.id)).size, 100);
    await log.close();
    assert.deepEqual(await verifyReceiptLog([dir], jwks), { ok: true, count: 100, lastSeq: 99, files: [path.join(dir, 'receipts-000000000000.jsonl')] });
  });

  it('rotates into files named by their first seq; the chain continues across files and reopen', async () => {
    const dir = tmpDir();
    let log = await openLog(dir, { rotateBytes: 1500 });
    for (let i = 0; i < 8; i++) await log.append({ kind: 'decision', i });
    await log.close();
    log = await openLog(dir, { rotateBytes: 1500 });
    assert.equal(log.lastSeq, 7);
    for (let i = 8; i < 12; i++) await log.append({ kind: 'decision', i });
    await log.close();
    const files = logLines(dir);
    assert.ok(files.length >= 3, `expected rotation, got ${files.length} file(s)`);
    let seq = 0;
    let prev: string | null = null;
    for (const f of files) {
      assert.equal(path.basename(f.file), `receipts-${String(seq).padStart(12, '0')}.jsonl`);
      assert.ok(fs.statSync(f.file).size <= 1500);
      for (const l of f.lines) {
        const p = payloadOf(l);
        assert.deepEqual([p.seq, p.prev], [seq, prev]);
        prev = lineHash(l);
        seq++;
      }
    }
    assert.equal(seq, 12);
    const r = await verifyReceiptLog([...files.map((f) => f.file)].reverse(), jwks);
    assert.equal(r.ok, true);
  });

  it('torn tail: a partial line is cut at open and a recovered record written', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    for (let i = 0; i < 3; i++) await log.append({ kind: 'decision', i });
    await log.close();
    const file = path.join(dir, 'receipts-000000000000.jsonl');
    const intact = fs.readFileSync(file);
    const torn = signer.sign({ v: 1, seq: 3 }).slice(0, 40);
    fs.appendFileSync(file, torn);
    log = await openLog(dir);
    assert.equal(log.recoveredBytes, 40);
    assert.equal(log.lastSeq, 3);
    await log.close();
    const lines = logLines(dir)[0]!.lines;
    assert.deepEqual(fs.readFileSync(file).subarray(0, intact.length), intact);
    assert.equal(lines.length, 4);
    const rec = payloadOf(lines[3]!);
    assert.deepEqual([rec.kind, rec.event, rec.bytes_dropped, rec.seq, rec.prev], ['lifecycle', 'recovered', 40, 3, lineHash(lines[2]!)]);
    assert.equal((await verifyReceiptLog([dir], jwks)).ok, true);
  });

  it('torn tail: a complete line that does not verify (zeros, bad signature) is cut too', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    await log.append({ kind: 'decision' });
    await log.close();
    const file = path.join(dir, 'receipts-000000000000.jsonl');
    const good = logLines(dir)[0]!.lines[0]!;
    const forged = `${good.slice(0, -4)}AAAA\n`;
    fs.appendFileSync(file, Buffer.concat([Buffer.from(forged), Buffer.alloc(100)]));
    log = await openLog(dir);
    assert.equal(log.recoveredBytes, forged.length + 100);
    await log.close();
    assert.deepEqual(logLines(dir)[0]!.lines.map((l) => payloadOf(l).seq), [0, 1]);
    assert.equal((await verifyReceiptLog([dir], jwks)).ok, true);
  });

  it('an empty newest file (rotated just before a crash) continues the chain of the one before', async () => {
    const dir = tmpDir();
    let log = await openLog(dir);
    await log.append({ kind: 'decision' });
    await log.close();
    fs.writeFileSync(path.join(dir, 'receipts-000000000001.jsonl'), '');
    log = await openLog(dir);
    const r = await log.append({ kind: 'decision' });
    await log.close();
    assert.equal(r.seq, 1);
    assert.equal(logLines(dir)[1]!.lines.length, 1);
    assert.equal((await verifyReceiptLog([dir], jwks)).ok, true);
  });

  it('head() signs {seq, hash, ts} of the newest durable line; verify --head accepts it', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    await log.append({ kind: 'decision' });
    await log.append({ kind: 'decision' });
    const head = log.head();
    await log.close();
    const lines = logLines(dir)[0]!.lines;
    assert.deepEqual(payloadOf(head), { seq: 1, hash: lineHash(lines[1]!), ts: '2025-03-01T12:00:00.000Z' });
    assert.equal((await verifyReceiptLog([dir], jwks, { head })).ok, true);
  });

  it('durability none resolves after the write without fsync', async () => {
    const dir = tmpDir();
    let fsyncs = 0;
    const log = await openLog(dir, { durability: 'none', onFsync: () => fsyncs++ });
    await Promise.all(Array.from({ length: 20 }, () => log.append({ kind: 'outcome' })));
    assert.equal(fsyncs, 0);
    assert.equal(logLines(dir)[0]!.lines.length, 20);
    await log.close();
  });

  it('close(stop) writes the stop record last; appends after close are ReceiptUnavailableError', async () => {
    const dir = tmpDir();
    const log = await openLog(dir);
    const pending = log.append({ kind: 'decision' });
    await log.close({ kind: 'lifecycle', event: 'stop' });
    await pending;
    await assert.rejects(log.append({ kind: 'decision' }), { code: 'RECEIPT_UNAVAILABLE' });
    assert.deepEqual(logLines(dir)[0]!.lines.map((l) => payloadOf(l).event ?? payloadOf(l).kind), ['decision', 'stop']);
  });

  it('readAll yields every payload in chain order (for the replay store)', async () => {
    const dir = tmpDir();
    const log = await openLog(dir, { rotateBytes: 1000 });
    for (let i = 0; i < 6; i++) await log.append({ kind: 'decision', permit: { jti: `j${i}`, exp: 100 + i } });
    await log.close();
    const seen: unknown[] = [];
    for await (const p of ReceiptLog.readAll(dir)) seen.push((p.permit as { jti: string }).jti);
    assert.deepEqual(seen, ['j0', 'j1', 'j2', 'j3', 'j4', 'j5']);
  });
});
