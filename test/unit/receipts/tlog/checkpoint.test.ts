import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { CheckpointError, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../../../receipts/tlog/checkpoint.js';
import { EMPTY_ROOT, leafHash } from '../../../../receipts/tlog/merkle.js';
import { NoteError, signNote, verifierKey } from '../../../../receipts/tlog/signed-note.js';

const ORIGIN = 'gate-1.example/receipts';
const ROOT = leafHash(Buffer.from('root'));
const R64 = ROOT.toString('base64');

const codeOf = (fn: () => unknown): string => {
  try { fn(); } catch (e) { return e instanceof CheckpointError || e instanceof NoteError ? e.code : `unexpected: ${String(e)}`; }
  return 'no error';
};

describe('checkpoint', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const vkey = verifierKey(ORIGIN, publicKey);

  it('formatCheckpoint writes <origin>\\n<size>\\n<base64 root>\\n, then extensions', () => {
    assert.equal(formatCheckpoint({ origin: ORIGIN, size: 42, root: ROOT }), `${ORIGIN}\n42\n${R64}\n`);
    assert.equal(formatCheckpoint({ origin: ORIGIN, size: 0, root: EMPTY_ROOT }), `${ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`);
    assert.equal(formatCheckpoint({ origin: ORIGIN, size: 1, root: ROOT, extensions: ['x y', 'z'] }), `${ORIGIN}\n1\n${R64}\nx y\nz\n`);
  });

  it('parseCheckpoint round-trips, extensions included', () => {
    assert.deepEqual(parseCheckpoint(`${ORIGIN}\n42\n${R64}\n`), { origin: ORIGIN, size: 42, root: ROOT, extensions: [] });
    assert.deepEqual(parseCheckpoint(`${ORIGIN}\n9007199254740991\n${R64}\nx\n`).extensions, ['x']);
    assert.equal(parseCheckpoint(`${ORIGIN}\n9007199254740991\n${R64}\n`).size, Number.MAX_SAFE_INTEGER);
  });

  const bad: Array<[string, string]> = [
    ['no final newline', `${ORIGIN}\n42\n${R64}`],
    ['two lines', `${ORIGIN}\n42\n`],
    ['empty origin', `\n42\n${R64}\n`],
    ['leading zero', `${ORIGIN}\n042\n${R64}\n`],
    ['signed size', `${ORIGIN}\n+42\n${R64}\n`],
    ['negative size', `${ORIGIN}\n-1\n${R64}\n`],
    ['hex size', `${ORIGIN}\n0x2a\n${R64}\n`],
    ['space in size', `${ORIGIN}\n 42\n${R64}\n`],
    ['size past 2^53', `${ORIGIN}\n9007199254740992\n${R64}\n`],
    ['empty size', `${ORIGIN}\n\n${R64}\n`],
    ['root of 31 bytes', `${ORIGIN}\n42\n${ROOT.subarray(1).toString('base64')}\n`],
    ['root of 33 bytes', `${ORIGIN}\n42\n${Buffer.concat([ROOT, Buffer.from([0])]).toString('base64')}\n`],
    ['root in base64url', `${ORIGIN}\n42\n${ROOT.toString('base64url')}\n`],
    ['root without padding', `${ORIGIN}\n42\n${R64.replace(/=$/, '')}\n`],
    ['root in hex', `${ORIGIN}\n42\n${ROOT.toString('hex')}\n`],
    ['empty extension line', `${ORIGIN}\n42\n${R64}\n\nx\n`],
  ];
  for (const [what, text] of bad) {
    it(`parseCheckpoint rejects ${what}: CHECKPOINT_MALFORMED`, () => assert.equal(codeOf(() => parseCheckpoint(text)), 'CHECKPOINT_MALFORMED'));
  }

  it('formatCheckpoint refuses values no checkpoint holds', () => {
    assert.throws(() => formatCheckpoint({ origin: '', size: 1, root: ROOT }), TypeError);
    assert.throws(() => formatCheckpoint({ origin: 'a\nb', size: 1, root: ROOT }), TypeError);
    assert.throws(() => formatCheckpoint({ origin: ORIGIN, size: -1, root: ROOT }), TypeError);
    assert.throws(() => formatCheckpoint({ origin: ORIGIN, size: 1.5, root: ROOT }), TypeError);
    assert.throws(() => formatCheckpoint({ origin: ORIGIN, size: 1, root: ROOT.subarray(1) }), TypeError);
    assert.throws(() => formatCheckpoint({ origin: ORIGIN, size: 1, root: ROOT, extensions: [''] }), TypeError);
  });

  it('signCheckpoint then openCheckpoint', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, ORIGIN, privateKey);
    assert.ok(note.startsWith(`${ORIGIN}\n7\n${R64}\n\n\u2014 ${ORIGIN} `));
    const cp = openCheckpoint(note, vkey);
    assert.deepEqual(cp, { origin: ORIGIN, size: 7, root: ROOT, extensions: [], note });
  });

  it('openCheckpoint: a note signed under another name than the origin is CHECKPOINT_ORIGIN_MISMATCH', () => {
    const note = signCheckpoint({ origin: 'other.example/log', size: 7, root: ROOT }, ORIGIN, privateKey);
    assert.equal(codeOf(() => openCheckpoint(note, vkey)), 'CHECKPOINT_ORIGIN_MISMATCH');
  });

  it('openCheckpoint: a signed body that is no checkpoint is CHECKPOINT_MALFORMED', () => {
    assert.equal(codeOf(() => openCheckpoint(signNote(`${ORIGIN}\n07\n${R64}\n`, ORIGIN, privateKey), vkey)), 'CHECKPOINT_MALFORMED');
  });

  it('openCheckpoint: signature failures are the NoteError codes', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, root: ROOT }, ORIGIN, privateKey);
    assert.equal(codeOf(() => openCheckpoint(note.replace('\n7\n', '\n8\n'), vkey)), 'NOTE_SIGNATURE_INVALID');
    const stranger = generateKeyPairSync('ed25519');
    assert.equal(codeOf(() => openCheckpoint(note, verifierKey(ORIGIN, stranger.publicKey))), 'NOTE_UNVERIFIED');
    assert.equal(codeOf(() => openCheckpoint(note.slice(0, -1), vkey)), 'NOTE_MALFORMED');
  });
});
