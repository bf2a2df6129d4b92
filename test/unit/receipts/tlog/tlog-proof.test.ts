import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { CheckpointError } from '../../../../receipts/tlog/checkpoint.js';
import {
  CompactRange, MemoryNodeSource, NoteError, TlogProofError, consistencyPath, formatConsistencyAnswer, formatConsistencyProof,
  formatTlogProof, inclusionPath, leafHash, parseConsistencyAnswer, parseConsistencyProof, parseTlogProof, signCheckpoint,
  verifierKey, verifyConsistencyAnswer, verifyTlogProof,
} from '../../../../receipts/tlog/index.js';

const ORIGIN = 'gate-1.example/receipts';
const codeOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) {
    return e instanceof TlogProofError || e instanceof NoteError || e instanceof CheckpointError ? e.code : `unexpected: ${String(e)}`;
  }
  return 'no error';
};

/** A small log: entry lines, their tree, and a signed checkpoint of every size. */
function makeLog(n: number) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const entries = Array.from({ length: n }, (_, seq) => Buffer.from(JSON.stringify({ v: 2, seq, kind: 'decision' })));
  const leaves = entries.map((e) => leafHash(e));
  const src = new MemoryNodeSource(leaves);
  const range = new CompactRange();
  const notes: string[] = [signCheckpoint({ origin: ORIGIN, size: 0, root: range.root() }, ORIGIN, privateKey)];
  for (const l of leaves) {
    range.append(l);
    notes.push(signCheckpoint({ origin: ORIGIN, size: range.size, root: range.root() }, ORIGIN, privateKey));
  }
  const proof = (seq: number, size = n): string =>
    formatTlogProof({ extra: entries[seq]!, index: seq, path: inclusionPath(src, seq, size), checkpoint: notes[size]! });
  return { entries, src, notes, proof, vkey: verifierKey(ORIGIN, publicKey), privateKey };
}

describe('tlog-proof', () => {
  const log = makeLog(13);

  it('format: header, extra, index, path lines, an empty line, the checkpoint verbatim', () => {
    const text = log.proof(5);
    const path = inclusionPath(log.src, 5, 13);
    assert.equal(text, [
      'c2sp.org/tlog-proof@v1', `extra ${log.entries[5]!.toString('base64')}`, 'index 5',
      ...path.map((h) => h.toString('base64')), '', log.notes[13],
    ].join('\n'));
    assert.deepEqual(parseTlogProof(text), { extra: log.entries[5], index: 5, path, checkpoint: log.notes[13] });
  });

  it('every entry of every size verifies', () => {
    for (let size = 1; size <= 13; size++) {
      for (let seq = 0; seq < size; seq++) {
        const r = verifyTlogProof(log.proof(seq, size), log.vkey);
        assert.equal(r.index, seq);
        assert.equal(r.size, size);
        assert.equal(r.origin, ORIGIN);
        assert.ok(r.entry.equals(log.entries[seq]!));
        assert.equal(r.checkpoint.note, log.notes[size]);
      }
    }
  });

  it('a proof of size 1 has no path lines', () => {
    const text = log.proof(0, 1);
    assert.match(text, /^c2sp\.org\/tlog-proof@v1\nextra [^\n]+\nindex 0\n\n/);
    assert.equal(verifyTlogProof(text, log.vkey).size, 1);
  });

  it('parse accepts the optional extra line missing; verify then needs it: TLOG_PROOF_NO_EXTRA', () => {
    const text = formatTlogProof({ extra: null, index: 2, path: inclusionPath(log.src, 2, 13), checkpoint: log.notes[13]! });
    assert.equal(parseTlogProof(text).extra, null);
    assert.equal(codeOf(() => verifyTlogProof(text, log.vkey)), 'TLOG_PROOF_NO_EXTRA');
  });

  const text = log.proof(5);
  const swapped = log.entries[6]!.toString('base64');
  const malformed: Array<[string, string]> = [
    ['another header', text.replace('tlog-proof@v1', 'tlog-proof@v2')],
    ['no empty line', text.replace(/\n\n/, '\n')],
    ['no index line', text.replace('index 5\n', '')],
    ['index with a leading zero', text.replace('index 5', 'index 05')],
    ['negative index', text.replace('index 5', 'index -5')],
    ['index past 2^53', text.replace('index 5', 'index 9007199254740993')],
    ['extra in base64url', text.replace(/^extra .*$/m, `extra ${log.entries[5]!.toString('base64url')}x`)],
    ['a short hash line', text.replace(/^index 5\n[^\n]+/m, 'index 5\nAAAA')],
    ['a hash line with a trailing space', text.replace(/^(index 5\n[^\n]+)/m, '$1 ')],
    ['no checkpoint', text.slice(0, text.indexOf('\n\n') + 2)],
  ];
  for (const [what, t] of malformed) {
    it(`${what}: TLOG_PROOF_MALFORMED`, () => assert.equal(codeOf(() => verifyTlogProof(t, log.vkey)), 'TLOG_PROOF_MALFORMED'));
  }

  const refused: Array<[string, () => string, string]> = [
    ['another entry', () => text.replace(/^extra .*$/m, `extra ${swapped}`), 'TLOG_PROOF_INVALID'],
    ['another index', () => text.replace('index 5', 'index 4'), 'TLOG_PROOF_INVALID'],
    ['a path for another size', () => formatTlogProof({ extra: log.entries[5]!, index: 5, path: inclusionPath(log.src, 5, 12), checkpoint: log.notes[13]! }), 'TLOG_PROOF_INVALID'],
    ['a dropped path line', () => text.replace(/^(index 5\n)[^\n]+\n/m, '$1'), 'TLOG_PROOF_INVALID'],
    ['an index past the size', () => formatTlogProof({ extra: log.entries[5]!, index: 13, path: [], checkpoint: log.notes[13]! }), 'TLOG_PROOF_INDEX_OUT_OF_RANGE'],
    ['a forged checkpoint', () => text.replace(/\n13\n/, '\n14\n'), 'NOTE_SIGNATURE_INVALID'],
    ['another log\'s key', () => text, 'NOTE_UNVERIFIED'],
  ];
  for (const [what, make, code] of refused) {
    it(`${what}: ${code}`, () => {
      const vkey = code === 'NOTE_UNVERIFIED' ? verifierKey(ORIGIN, generateKeyPairSync('ed25519').publicKey) : log.vkey;
      assert.equal(codeOf(() => verifyTlogProof(make(), vkey)), code);
    });
  }
});

describe('consistency proof texts', () => {
  const log = makeLog(13);

  it('one base64 hash a line; the empty path is the empty string', () => {
    const path = consistencyPath(log.src, 5, 13);
    const text = formatConsistencyProof(path);
    assert.equal(text, path.map((h) => `${h.toString('base64')}\n`).join(''));
    assert.deepEqual(parseConsistencyProof(text), path);
    assert.equal(formatConsistencyProof([]), '');
    assert.deepEqual(parseConsistencyProof(''), []);
  });

  it('answers: path lines, an empty line, the note; verified from every older size', () => {
    const range = new CompactRange();
    const olds: Array<{ size: number; root: Buffer }> = [{ size: 0, root: range.root() }];
    for (let i = 0; i < 13; i++) { range.append(log.src.node(0, i)); olds.push({ size: range.size, root: range.root() }); }
    for (const old of olds) {
      const answer = formatConsistencyAnswer(consistencyPath(log.src, old.size, 13), log.notes[13]!);
      if (old.size === 0 || old.size === 13) assert.ok(answer.startsWith('\n'), 'an empty path: the answer begins with the empty line');
      assert.equal(parseConsistencyAnswer(answer).checkpoint, log.notes[13]);
      assert.equal(verifyConsistencyAnswer(answer, log.vkey, old).size, 13);
    }
    const answer = formatConsistencyAnswer(consistencyPath(log.src, 5, 13), log.notes[13]!);
    assert.equal(codeOf(() => verifyConsistencyAnswer(answer, log.vkey, olds[6]!)), 'CONSISTENCY_PROOF_INVALID');
    assert.equal(codeOf(() => verifyConsistencyAnswer(answer, log.vkey, { size: 5, root: olds[6]!.root })), 'CONSISTENCY_PROOF_INVALID');
    assert.equal(codeOf(() => verifyConsistencyAnswer(answer, log.vkey, { size: 14, root: olds[6]!.root })), 'CONSISTENCY_PROOF_INVALID');
  });

  const bad: Array<[string, () => unknown]> = [
    ['a line without its newline', () => parseConsistencyProof(formatConsistencyProof(consistencyPath(log.src, 5, 13)).slice(0, -1))],
    ['a short hash', () => parseConsistencyProof('AAAA\n')],
    ['an empty line', () => parseConsistencyProof('\n')],
    ['an answer without the empty line', () => parseConsistencyAnswer(formatConsistencyProof(consistencyPath(log.src, 5, 13)))],
    ['an answer without a note', () => parseConsistencyAnswer(`${formatConsistencyProof(consistencyPath(log.src, 5, 13))}\n`)],
    ['an empty answer', () => parseConsistencyAnswer('')],
  ];
  for (const [what, run] of bad) it(`${what}: CONSISTENCY_PROOF_MALFORMED`, () => assert.equal(codeOf(run), 'CONSISTENCY_PROOF_MALFORMED'));
});
