import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { lineHash } from '../../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { verifyReceiptLog } from '../../../receipts/verify-log.js';
import { logLines, newSigner, payloadOf, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

const signer = newSigner('rk-verify');
const jwks = { keys: [signer.publicJwk] };

/** A pristine log: 12 receipts over 3 files of 4 lines (rotation every ~4 lines), and its head. */
let pristine: string;
let head: string;

function copyLog(): { dir: string; files: string[] } {
  const dir = tmpDir('tamper-');
  fs.cpSync(pristine, dir, { recursive: true });
  return { dir, files: fs.readdirSync(dir).sort().map((n) => path.join(dir, n)) };
}

function editLines(file: string, edit: (lines: string[]) => void): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop();
  edit(lines);
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

describe('verify-log', () => {
  before(async () => {
    pristine = tmpDir('pristine-');
    const log = await ReceiptLog.open({ dir: pristine, signer, durability: 'none', rotateBytes: 1700, gate: 'g' });
    for (let i = 0; i < 12; i++) await log.append({ kind: 'decision', i });
    head = log.head();
    await log.close();
    assert.deepEqual(logLines(pristine).map((f) => f.lines.length), [4, 4, 4], 'fixture layout');
  });

  it('accepts the intact log, given as a folder or as files in any order, with its head', async () => {
    const { dir, files } = copyLog();
    assert.deepEqual(await verifyReceiptLog([dir], jwks, { head }), { ok: true, count: 12, lastSeq: 11, files });
    const r = await verifyReceiptLog([files[2]!, files[0]!, files[1]!], jwks);
    assert.equal(r.ok, true);
    const headFile = path.join(tmpDir(), 'head.jws');
    fs.writeFileSync(headFile, `${head}\n`);
    assert.equal((await verifyReceiptLog(files, jwks, { head: headFile })).ok, true);
  });

  const T = (file: number, line: number, reason: RegExp) => ({ file, line, reason });
  const matrix: { name: string; tamper: (files: string[]) => void; expect: { file: number; line: number; reason: RegExp }; withHead?: boolean }[] = [
    {
      name: 'changed payload',
      tamper: (f) => editLines(f[1]!, (l) => {
        const [h, , s] = l[2]!.split('.');
        l[2] = `${h}.${Buffer.from(JSON.stringify({ ...payloadOf(l[2]!), i: 99 })).toString('base64url')}.${s}`;
      }),
      expect: T(1, 3, /^signature does not verify$/),
    },
    { name: 'removed line', tamper: (f) => editLines(f[0]!, (l) => l.splice(1, 1)), expect: T(0, 2, /^seq 2, expected 1/) },
    { name: 'reordered lines', tamper: (f) => editLines(f[1]!, (l) => { [l[1], l[2]] = [l[2]!, l[1]!]; }), expect: T(1, 2, /^seq 6, expected 5/) },
    { name: 'duplicated line', tamper: (f) => editLines(f[2]!, (l) => l.splice(2, 0, l[1]!)), expect: T(2, 3, /^seq 9, expected 10/) },
    {
      name: 'inserted line, validly signed by the same key but out of chain',
      tamper: (f) => editLines(f[1]!, (l) => {
        const p = payloadOf(l[0]!);
        l.splice(1, 0, signer.sign({ ...p, seq: 5, prev: lineHash('not the previous line') }));
      }),
      expect: T(1, 2, /^prev "[^"]+" is not the hash of the previous line/),
    },
    {
      name: 're-signed with a foreign key under the same kid',
      tamper: (f) => editLines(f[0]!, (l) => { l[3] = newSigner('rk-verify').sign(payloadOf(l[3]!)); }),
      expect: T(0, 4, /^signature does not verify$/),
    },
    {
      name: 're-signed with a key not in the JWKS',
      tamper: (f) => editLines(f[2]!, (l) => { l[0] = newSigner('intruder').sign(payloadOf(l[0]!)); }),
      expect: T(2, 1, /^kid "intruder" is not in the keys given$/),
    },
    {
      name: 'cut tail, detected with the head',
      tamper: (f) => editLines(f[2]!, (l) => l.splice(2)),
      withHead: true,
      expect: T(2, 3, /^log ends at seq 9 but the head names seq 11/),
    },
    {
      name: 'last line replaced by another validly chained line, detected by the head hash',
      tamper: (f) => editLines(f[2]!, (l) => { l[3] = signer.sign({ ...payloadOf(l[3]!), i: 1000 }); }),
      withHead: true,
      expect: T(2, 4, /^seq 11 does not hash to the head's hash/),
    },
    { name: 'torn last line', tamper: (f) => fs.appendFileSync(f[2]!, 'eyJhbGciOi'), expect: T(2, 5, /torn write/) },
    { name: 'blank line', tamper: (f) => editLines(f[0]!, (l) => l.splice(2, 0, '')), expect: T(0, 3, /^empty line$/) },
  ];

  for (const c of matrix) {
    it(`reports the first bad line: ${c.name}`, async () => {
      const { files } = copyLog();
      c.tamper(files);
      const r = await verifyReceiptLog([...files].reverse(), jwks, c.withHead ? { head } : {});
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.file, files[c.expect.file]);
      assert.equal(r.line, c.expect.line);
      assert.match(r.reason, c.expect.reason);
    });
  }

  it('a cut tail goes unnoticed without the head (why the head exists)', async () => {
    const { files } = copyLog();
    editLines(files[2]!, (l) => l.splice(2));
    assert.deepEqual(await verifyReceiptLog(files, jwks), { ok: true, count: 10, lastSeq: 9, files });
  });

  it('a head from another key is refused as a head error', async () => {
    const { files } = copyLog();
    await assert.rejects(verifyReceiptLog(files, jwks, { head: newSigner('x').signHead({ seq: 1, hash: 'h', ts: 't' }) }), { code: 'RECEIPT_HEAD_INVALID' });
  });
});
