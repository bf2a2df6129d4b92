import assert from 'node:assert/strict';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkV2Log, newPrivateJwk, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';
import { createReceiptSigner } from '../../../receipts/receipt-codec.js';
import { verifierKey } from '../../../receipts/tlog/signed-note.js';

const CHILD = fileURLToPath(new URL('../../fixtures/receipts/fsize-child.ts', import.meta.url));
const hasPrlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface AppendReply {
  results: { ok: boolean; seq?: number; code?: string; name?: string; message?: string }[];
  writable: boolean;
  lastSeq: number;
  size: number;
}

function ask<T>(child: ChildProcess, msg: object): Promise<T> {
  const reply = once(child, 'message').then(([m]) => {
    if ((m as { error?: string }).error) throw new Error((m as { error: string }).error);
    return m as T;
  });
  child.send(msg);
  return reply;
}

/** Sets the soft limit only: raising it back needs no privilege (the hard limit stays as it was). */
function setFsize(pid: number, limit: string): void {
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${limit}:`]);
}

describe('receipt-log write failure', () => {
  before(() => assert.ok(hasPrlimit, 'this test needs prlimit (Debian package util-linux)'));
  let child: ChildProcess | undefined;
  after(() => { if (child?.connected) child.kill(); });

  for (const ownThread of [false, true]) it(`EFBIG (${ownThread ? 'writer thread, as the gate runs it' : 'inline writer'}): the batch is rejected RECEIPT_UNAVAILABLE, the file cut back to its last checkpoint, the tree restored, and writes recover without restart`, async () => {
    const dir = tmpDir();
    const jwk = newPrivateJwk('rk-fail');
    const vkey = verifierKey('egress-gate/g', createReceiptSigner(jwk).publicKey);
    const file = path.join(dir, 'receipts-000000000000.jsonl');
    child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await ask(child, { op: 'open', dir, jwk, ownThread });

    const first = await ask<AppendReply>(child, { op: 'append', n: 5 });
    assert.deepEqual(first.results.map((r) => r.seq), [0, 1, 2, 3, 4]);
    const durable = first.size;

    // Room for part of one line only: the write is short, then EFBIG.
    setFsize(child.pid!, String(durable + 200));
    const failed = await ask<AppendReply>(child, { op: 'append', n: 5 });
    for (const r of failed.results) {
      assert.equal(r.ok, false);
      assert.equal(r.code, 'RECEIPT_UNAVAILABLE');
      assert.equal(r.name, 'ReceiptUnavailableError');
      assert.match(r.message!, /File too large|EFBIG/);
    }
    assert.equal(failed.writable, false);
    assert.equal(failed.lastSeq, 4);
    assert.equal(failed.size, durable, 'the file is cut back to its last checkpoint line');
    assert.equal(checkV2Log(dir, vkey).entries.length, 5);

    const stillFailing = await ask<AppendReply>(child, { op: 'append', n: 1 });
    assert.deepEqual([stillFailing.results[0]!.code, stillFailing.writable, stillFailing.size], ['RECEIPT_UNAVAILABLE', false, durable]);

    setFsize(child.pid!, 'unlimited');
    const recovered = await ask<AppendReply>(child, { op: 'append', n: 3 });
    assert.deepEqual(recovered.results.map((r) => r.seq), [5, 6, 7], 'failed batches took no seq');
    assert.equal(recovered.writable, true);
    await ask(child, { op: 'close' });
    // Nothing of the failed commits was sealed by the later one: 8 entries, seq 0..7, every
    // checkpoint the root of the entries before it.
    const { entries, checkpoints } = checkV2Log(dir, vkey);
    assert.deepEqual(entries.map((e) => e.entry!.i), [0, 1, 2, 3, 4, 0, 1, 2]);
    assert.equal(checkpoints.length, 2);
    assert.ok(fs.statSync(file).size > durable);
  });
});
