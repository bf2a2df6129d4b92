/**
 * verify-log against logs built by the v2 fixture (an oracle independent of the writer): the
 * intact log passes given any way; the tamper matrix of issue 13 each fails at its exact
 * file:line; a saved checkpoint catches what the log alone cannot (a rewrite re-signed with
 * the real key, a cut by whole commits).
 *
 * Fixture layout (buildV2Log defaults), files f0 f1 f2, line: content
 *   f0: 1-3 seq 0-2, 4 cp(3), 5-9 seq 3-7, 10 cp(8)
 *   f1: 1-4 seq 8-11, 5 cp(12), 6-7 seq 12-13, 8 cp(14)
 *   f2: 1-5 seq 14-18, 6 cp(19), 7-10 seq 19-22, 11 cp(23)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parseLogKey } from '../../../receipts/log-key.js';
import { SavedCheckpointError, verifyReceiptLog, type VerifyResult } from '../../../receipts/verify-log.js';
import { signCheckpoint } from '../../../receipts/tlog/checkpoint.js';
import { leafHash } from '../../../receipts/tlog/merkle.js';
import { verifierKey } from '../../../receipts/tlog/signed-note.js';
import { buildV2Log, checkpointLine, jwksOf, newKeyPair, resealFiles, tmpDir, type V2LogBuilder } from '../../fixtures/receipts/v2-log.js';

let log: V2LogBuilder;

function copyLog(): string[] {
  const dir = tmpDir('tamper-');
  for (const f of log.files) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  return fs.readdirSync(dir).sort().map((n) => path.join(dir, n));
}

function editLines(file: string, edit: (lines: string[]) => void): void {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop();
  edit(lines);
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

const obj = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

function assertBad(r: VerifyResult, file: string, line: number, reason: RegExp): void {
  assert.equal(r.ok, false, 'expected a bad line');
  if (r.ok) return;
  assert.deepEqual({ file: r.file, line: r.line }, { file, line }, r.reason);
  assert.match(r.reason, reason);
}

describe('verify-log', () => {
  before(() => {
    log = buildV2Log();
    assert.deepEqual(log.files.map((f) => fs.readFileSync(f, 'utf8').split('\n').length - 1), [10, 8, 11], 'fixture layout');
  });

  it('accepts the intact log given as a folder or files in any order, with a verifier key or a JWKS', async () => {
    const files = copyLog();
    const r = await verifyReceiptLog([path.dirname(files[0]!)], parseLogKey(log.verifierKey));
    assert.deepEqual(r, {
      ok: true, entries: 23, checkpoints: 6, size: 23, root: log.checkpoints.at(-1)!.split('\n')[2], origin: log.origin, files,
    });
    assert.equal((await verifyReceiptLog([files[2]!, files[0]!, files[1]!, files[0]!], log.verifierKey)).ok, true);
    assert.equal((await verifyReceiptLog(files, parseLogKey(JSON.stringify(jwksOf(log.keys.publicKey))))).ok, true, 'a JWKS: the origin comes from the checkpoints');
    assert.equal((await verifyReceiptLog(files, jwksOf(log.keys.publicKey))).ok, true);
  });

  it('an empty log, and empty files (a file the writer created before its first commit), verify', async () => {
    const dir = tmpDir();
    assert.deepEqual(await verifyReceiptLog([dir], log.verifierKey), { ok: true, entries: 0, checkpoints: 0, size: 0, root: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', origin: undefined, files: [] });
    const files = copyLog();
    fs.writeFileSync(path.join(path.dirname(files[0]!), 'receipts-000000000023.jsonl'), '');
    assert.equal((await verifyReceiptLog([path.dirname(files[0]!)], log.verifierKey)).ok, true);
  });

  const matrix: { name: string; tamper: (f: string[]) => void; at: [file: number, line: number]; reason: RegExp }[] = [
    {
      name: 'changed entry',
      tamper: (f) => editLines(f[1]!, (l) => { l[1] = JSON.stringify({ ...obj(l[1]!), status: 500 }); }),
      at: [1, 5],
      reason: /^checkpoint root \S+ is not the root of the 12 entries before it \(an entry since line 1 was changed or re-serialized\)$/,
    },
    {
      name: 're-serialized entry: other key order',
      tamper: (f) => editLines(f[0]!, (l) => { const o = obj(l[5]!); l[5] = JSON.stringify(Object.fromEntries(Object.entries(o).reverse())); }),
      at: [0, 10],
      reason: /is not the root of the 8 entries before it/,
    },
    {
      name: 're-serialized entry: other spacing',
      tamper: (f) => editLines(f[2]!, (l) => { l[7] = l[7]!.replace(/,"/g, ', "'); }),
      at: [2, 11],
      reason: /is not the root of the 23 entries before it \(an entry since line 7/,
    },
    { name: 'removed entry', tamper: (f) => editLines(f[2]!, (l) => l.splice(1, 1)), at: [2, 2], reason: /^seq 16, expected 15 \(an entry was removed/ },
    { name: 'reordered entries', tamper: (f) => editLines(f[0]!, (l) => { [l[5], l[6]] = [l[6]!, l[5]!]; }), at: [0, 6], reason: /^seq 5, expected 4 / },
    { name: 'duplicated entry', tamper: (f) => editLines(f[1]!, (l) => l.splice(3, 0, l[2]!)), at: [1, 4], reason: /^seq 10, expected 11 / },
    {
      name: 'inserted entry',
      tamper: (f) => editLines(f[1]!, (l) => l.splice(5, 0, JSON.stringify({ ...obj(l[5]!), id: '01972b5d-0000-7000-8000-000000000000', status: 201 }))),
      at: [1, 7],
      reason: /^seq 12, expected 13 /,
    },
    {
      name: 'inserted entry, the rest renumbered',
      tamper: (f) => editLines(f[1]!, (l) => {
        const extra = { ...obj(l[5]!), id: '01972b5d-0000-7000-8000-000000000000' };
        l.splice(5, 0, JSON.stringify(extra));
        l[6] = JSON.stringify({ ...obj(l[6]!), seq: 13 });
        l[7] = JSON.stringify({ ...obj(l[7]!), seq: 14 });
      }),
      at: [1, 9],
      reason: /^checkpoint tree size 14, but 15 entries precede it$/,
    },
    {
      name: 'checkpoint re-signed with another key (same origin, size and root)',
      tamper: (f) => editLines(f[1]!, (l) => {
        const note = (obj(l[4]!) as { checkpoint: string }).checkpoint;
        const [origin, size, root] = note.split('\n');
        l[4] = JSON.stringify({ checkpoint: signCheckpoint({ origin: origin!, size: Number(size), root: Buffer.from(root!, 'base64') }, origin!, newKeyPair().privateKey) });
      }),
      at: [1, 5],
      reason: /^checkpoint signature does not verify with the verifier key egress-gate\/test-gate\+[0-9a-f]{8}/,
    },
    {
      name: 'unsealed entry appended after the last checkpoint',
      tamper: (f) => fs.appendFileSync(f[2]!, `${JSON.stringify({ ...obj(fs.readFileSync(f[2]!, 'utf8').split('\n')[9]!), seq: 23, id: '01972b5d-ffff-7000-8000-000000000000' })}\n`),
      at: [2, 12],
      reason: /^entry after the last checkpoint \(not sealed by any checkpoint\)$/,
    },
    { name: 'middle file removed', tamper: (f) => fs.rmSync(f[1]!), at: [2, 1], reason: /^seq 14, expected 8 .*a file is missing/ },
    {
      name: 'a middle file that does not end with a checkpoint line',
      tamper: (f) => editLines(f[0]!, (l) => l.pop()),
      at: [0, 5],
      reason: /^the file does not end with a checkpoint line/,
    },
    { name: 'torn last line', tamper: (f) => fs.appendFileSync(f[2]!, '{"v":2,"id":'), at: [2, 12], reason: /^line not terminated by a newline/ },
    { name: 'a v1 line (a compact JWS)', tamper: (f) => editLines(f[0]!, (l) => { l[0] = 'eyJhbGciOiJFZERTQSJ9.eyJ2IjoxfQ.c2ln'; }), at: [0, 1], reason: /^not a JSON line/ },
    { name: 'an entry of v 1', tamper: (f) => editLines(f[0]!, (l) => { l[1] = JSON.stringify({ ...obj(l[1]!), v: 1 }); }), at: [0, 2], reason: /^v 1, expected 2$/ },
    { name: 'an id that is no UUIDv7', tamper: (f) => editLines(f[0]!, (l) => { l[1] = JSON.stringify({ ...obj(l[1]!), id: 'x' }); }), at: [0, 2], reason: /^id "x" is not a UUIDv7$/ },
    { name: 'an unknown kind', tamper: (f) => editLines(f[0]!, (l) => { l[1] = JSON.stringify({ ...obj(l[1]!), kind: 'note' }); }), at: [0, 2], reason: /^kind "note" is not decision, outcome, lifecycle or issuance$/ },
    {
      name: 'a checkpoint line with another key beside the note',
      tamper: (f) => editLines(f[0]!, (l) => { l[3] = JSON.stringify({ ...obj(l[3]!), x: 1 }); }),
      at: [0, 4],
      reason: /^a checkpoint line is \{"checkpoint": "<note>"\} and nothing else$/,
    },
  ];

  for (const t of matrix) {
    it(`reports ${t.name} at its line`, async () => {
      const files = copyLog();
      t.tamper(files);
      assertBad(await verifyReceiptLog(files.filter((f) => fs.existsSync(f)), log.verifierKey), files[t.at[0]]!, t.at[1], t.reason);
    });
  }

  it('the origin never changes: a checkpoint signed by the same key under another origin fails (JWKS key)', async () => {
    const files = copyLog();
    editLines(files[1]!, (l) => {
      const leaves = [...log.leaves.slice(0, 12)];
      l[4] = checkpointLine('egress-gate/other', leaves, log.keys.privateKey);
    });
    assertBad(await verifyReceiptLog(files, jwksOf(log.keys.publicKey)), files[1]!, 5, /^checkpoint origin "egress-gate\/other", but the log's origin is "egress-gate\/test-gate"/);
    assertBad(await verifyReceiptLog(files, log.verifierKey), files[1]!, 5, /^checkpoint origin "egress-gate\/other"/);
  });

  it('a log that spans a receipt-key rotation verifies with a JWKS holding both keys', async () => {
    const files = copyLog();
    const next = newKeyPair();
    editLines(files[2]!, (l) => {
      l[5] = checkpointLine(log.origin, log.leaves.slice(0, 19), next.privateKey);
      l[10] = checkpointLine(log.origin, log.leaves.slice(0, 23), next.privateKey);
    });
    const both = { keys: [...jwksOf(log.keys.publicKey).keys, ...jwksOf(next.publicKey, 'rk-2').keys] };
    assert.equal((await verifyReceiptLog(files, both)).ok, true);
    assertBad(await verifyReceiptLog(files, jwksOf(log.keys.publicKey)), files[2]!, 6, /^checkpoint signature does not verify/);
  });

  it('a key that is not the log\'s fails at the first checkpoint', async () => {
    const files = copyLog();
    assertBad(await verifyReceiptLog(files, jwksOf(newKeyPair().publicKey)), files[0]!, 4, /^checkpoint signature does not verify with the Ed25519 key of the JWKS/);
    assertBad(await verifyReceiptLog(files, verifierKey('egress-gate/elsewhere', log.keys.publicKey)), files[0]!, 4, /^checkpoint origin "egress-gate\/test-gate" is not the key's origin "egress-gate\/elsewhere"$/);
  });

  describe('against a saved checkpoint', () => {
    it('holds every saved checkpoint of the intact log, at a commit boundary or not', async () => {
      const files = copyLog();
      for (const size of [0, 3, 11, 12, 22, 23]) {
        const r = await verifyReceiptLog(files, log.verifierKey, { checkpoint: log.checkpointAt(size) });
        assert.equal(r.ok, true, `size ${size}: ${JSON.stringify(r)}`);
        assert.deepEqual(r.ok && r.saved?.size, size);
      }
    });

    it('catches a log rewritten from seq 10 on and re-signed with the real key', async () => {
      const files = copyLog();
      editLines(files[1]!, (l) => { l[2] = JSON.stringify({ ...obj(l[2]!), decision: 'DENY' }); });
      resealFiles(files, log.origin, log.keys.privateKey);
      assert.equal((await verifyReceiptLog(files, log.verifierKey)).ok, true, 'alone, the rewritten log is self-consistent');
      assertBad(await verifyReceiptLog(files, log.verifierKey, { checkpoint: log.checkpoints.at(-1)! }), files[2]!, 10, /^the first 23 entries do not have the root of the saved checkpoint \(\S+\): the log was rewritten$/);
      assertBad(await verifyReceiptLog(files, log.verifierKey, { checkpoint: log.checkpointAt(11) }), files[1]!, 3, /^the first 11 entries do not have the root/);
      assert.equal((await verifyReceiptLog(files, log.verifierKey, { checkpoint: log.checkpointAt(10) })).ok, true, 'the untouched prefix still holds');
    });

    it('catches a log cut back by whole commits', async () => {
      const files = copyLog();
      editLines(files[2]!, (l) => l.splice(6));
      assert.equal((await verifyReceiptLog(files, log.verifierKey)).ok, true, 'alone, a cut at a commit boundary is a valid shorter log');
      assertBad(await verifyReceiptLog(files, log.verifierKey, { checkpoint: log.checkpoints.at(-1)! }), files[2]!, 6, /^the log ends at tree size 19, but the saved checkpoint has tree size 23: the log was cut back$/);
      fs.rmSync(files[2]!);
      assertBad(await verifyReceiptLog(files.slice(0, 2), log.verifierKey, { checkpoint: log.checkpoints.at(-1)! }), files[1]!, 8, /ends at tree size 14/);
    });

    it('refuses a saved checkpoint that the key did not sign', async () => {
      const other = signCheckpoint({ origin: log.origin, size: 3, root: leafHash(Buffer.from('x')) }, log.origin, newKeyPair().privateKey);
      await assert.rejects(verifyReceiptLog(copyLog(), log.verifierKey, { checkpoint: other }), (e: Error) => e instanceof SavedCheckpointError && /^saved checkpoint: checkpoint signature does not verify/.test(e.message));
    });
  });
});
