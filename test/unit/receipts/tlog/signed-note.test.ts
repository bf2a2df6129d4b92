import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  NoteError, isValidNoteName, noteKeyId, openNote, parseNote, parseVerifierKey, signNote, verifierKey,
  type NoteErrorCode,
} from '../../../../receipts/tlog/signed-note.js';

// golang.org/x/mod/sumdb/note's reference key and note (note_test.go).
const GO_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

/** Reads Go's signer key text `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` (test helper only). */
function goSignerKey(skey: string): { name: string; privateKey: KeyObject } {
  const [, , name, , ...key] = skey.split('+'); // base64 may itself hold '+'
  const seed = Buffer.from(key.join('+'), 'base64').subarray(1);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return { name: name!, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
}

const codeOf = (fn: () => unknown): NoteErrorCode | string => {
  try { fn(); } catch (e) { return e instanceof NoteError ? e.code : `not a NoteError: ${String(e)}`; }
  return 'no error';
};

describe('signed-note: the Go sumdb/note reference', () => {
  const { name, privateKey } = goSignerKey(GO_SKEY);

  it('signNote reproduces the reference note byte for byte (Ed25519 is deterministic)', () => {
    assert.equal(signNote(GO_TEXT, name, privateKey), GO_NOTE);
  });

  it('verifierKey and noteKeyId reproduce the reference verifier key', () => {
    assert.equal(verifierKey(name, createPublicKey(privateKey)), GO_VKEY);
    assert.equal(verifierKey(name, privateKey), GO_VKEY, 'a private key yields its public verifier key');
    const raw = Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url');
    assert.equal(noteKeyId(name, raw).toString('hex'), 'c74f20a3');
  });

  it('parseVerifierKey reads the reference key', () => {
    const v = parseVerifierKey(GO_VKEY);
    assert.equal(v.name, 'PeterNeumann');
    assert.equal(v.keyId.toString('hex'), 'c74f20a3');
    assert.equal(v.publicKey.asymmetricKeyType, 'ed25519');
    assert.ok(v.publicKey.equals(createPublicKey(privateKey)));
  });

  it('openNote opens the reference note with the key text or the parsed key', () => {
    assert.equal(openNote(GO_NOTE, GO_VKEY), GO_TEXT);
    assert.equal(openNote(GO_NOTE, parseVerifierKey(GO_VKEY)), GO_TEXT);
    const { text, signatures } = parseNote(GO_NOTE);
    assert.equal(text, GO_TEXT);
    assert.deepEqual(signatures.map((s) => [s.name, s.keyId.toString('hex'), s.signature.length]), [['PeterNeumann', 'c74f20a3', 64]]);
  });
});

describe('signed-note: rejections', () => {
  const { privateKey } = goSignerKey(GO_SKEY);
  const sigLine = GO_NOTE.slice(GO_TEXT.length + 1);
  const other = generateKeyPairSync('ed25519');
  const otherSameName = signNote(GO_TEXT, 'PeterNeumann', other.privateKey).slice(GO_TEXT.length + 1);
  const cosigner = signNote(GO_TEXT, 'witness.example', other.privateKey).slice(GO_TEXT.length + 1);
  const sigB64 = sigLine.slice('\u2014 PeterNeumann '.length, -1);
  const sigBytes = Buffer.from(sigB64, 'base64');
  const withSig = (bytes: Buffer): string => `${GO_TEXT}\n\u2014 PeterNeumann ${bytes.toString('base64')}\n`;
  const flipped = Buffer.from(sigBytes); flipped[10]! ^= 1;

  const cases: Array<[string, string, NoteErrorCode]> = [
    ['no blank line', `${GO_TEXT}${sigLine}`, 'NOTE_MALFORMED'],
    ['no final newline', GO_NOTE.slice(0, -1), 'NOTE_MALFORMED'],
    ['empty signature block', `${GO_TEXT}\n`, 'NOTE_MALFORMED'],
    ['blank line inside the signature block', `${GO_TEXT}\n${sigLine}\n`, 'NOTE_MALFORMED'],
    ['hyphens for the em dash', GO_NOTE.replace('\u2014 ', '-- '), 'NOTE_MALFORMED'],
    ['en dash for the em dash', GO_NOTE.replace('\u2014', '\u2013'), 'NOTE_MALFORMED'],
    ['no space after the dash', GO_NOTE.replace('\u2014 ', '\u2014'), 'NOTE_MALFORMED'],
    ['no signature after the name', `${GO_TEXT}\n\u2014 PeterNeumann\n`, 'NOTE_MALFORMED'],
    ['empty signature after the name', `${GO_TEXT}\n\u2014 PeterNeumann \n`, 'NOTE_MALFORMED'],
    ['base64 without padding', GO_NOTE.replace('AM=\n', 'AM\n'), 'NOTE_MALFORMED'],
    ['base64url alphabet', GO_NOTE.replace('x08go/', 'x08go_'), 'NOTE_MALFORMED'],
    ['non-canonical base64', GO_NOTE.replace('AM=\n', 'AN=\n'), 'NOTE_MALFORMED'],
    ['signature of 4 bytes', withSig(sigBytes.subarray(0, 4)), 'NOTE_MALFORMED'],
    ['name with a plus', GO_NOTE.replace('\u2014 PeterNeumann', '\u2014 Peter+Neumann'), 'NOTE_MALFORMED'],
    ['name with a no-break space', GO_NOTE.replace('\u2014 PeterNeumann', '\u2014 Peter\u00a0Neumann'), 'NOTE_MALFORMED'],
    ['tab in the text', GO_NOTE.replace('If you', 'If\tyou'), 'NOTE_MALFORMED'],
    ['carriage return in the text', GO_NOTE.replace('problem,\n', 'problem,\r\n'), 'NOTE_MALFORMED'],
    ['lone surrogate in the text', GO_NOTE.replace('If', 'I\ud800f'), 'NOTE_MALFORMED'],
    ['101 signatures', `${GO_TEXT}\n${cosigner.repeat(100)}${sigLine}`, 'NOTE_MALFORMED'],
    ['only a signature by another key of the same name', `${GO_TEXT}\n${otherSameName}`, 'NOTE_UNVERIFIED'],
    ['only a cosignature', `${GO_TEXT}\n${cosigner}`, 'NOTE_UNVERIFIED'],
    ['a changed text', GO_NOTE.replace('cryptography', 'cryptographY'), 'NOTE_SIGNATURE_INVALID'],
    ['a flipped signature bit', withSig(flipped), 'NOTE_SIGNATURE_INVALID'],
    ['a truncated signature', withSig(sigBytes.subarray(0, 67)), 'NOTE_SIGNATURE_INVALID'],
    ['a bad first signature by the key, a good one after', `${GO_TEXT}\n${withSig(flipped).slice(GO_TEXT.length + 1)}${sigLine}`, 'NOTE_SIGNATURE_INVALID'],
  ];
  for (const [what, note, code] of cases) {
    it(`${what}: ${code}`, () => assert.equal(codeOf(() => openNote(note, GO_VKEY)), code));
  }

  it('other signatures are ignored; a repeat after a good signature is dropped, as in Go', () => {
    assert.equal(openNote(`${GO_TEXT}\n${cosigner}${otherSameName}${sigLine}`, GO_VKEY), GO_TEXT);
    assert.equal(openNote(`${GO_TEXT}\n${sigLine}${withSig(flipped).slice(GO_TEXT.length + 1)}`, GO_VKEY), GO_TEXT);
    assert.equal(openNote(`${GO_TEXT}\n${cosigner.repeat(99)}${sigLine}`, GO_VKEY), GO_TEXT, '100 signatures are fine');
  });

  it('regression: a verifier key whose base64 holds a plus sign parses', () => {
    let key = generateKeyPairSync('ed25519');
    while (verifierKey('k', key.publicKey).split('+').length < 4) key = generateKeyPairSync('ed25519');
    const vkey = verifierKey('k', key.publicKey);
    assert.ok(parseVerifierKey(vkey).publicKey.equals(key.publicKey));
    assert.equal(openNote(signNote('x\n', 'k', key.privateKey), vkey), 'x\n');
  });

  it('the text is everything before the LAST blank line', () => {
    const text = 'a\n\nb\n';
    const note = signNote(text, 'k', privateKey);
    assert.equal(openNote(note, verifierKey('k', privateKey)), text);
  });

  const keyCases: Array<[string, string, NoteErrorCode]> = [
    ['two parts', 'PeterNeumann+c74f20a3', 'NOTE_KEY_MALFORMED'],
    ['junk after the key', `${GO_VKEY}+x`, 'NOTE_KEY_MALFORMED'],
    ['seven hex digits', GO_VKEY.replace('c74f20a3', 'c74f20a'), 'NOTE_KEY_MALFORMED'],
    ['not hex', GO_VKEY.replace('c74f20a3', 'c74f20ag'), 'NOTE_KEY_MALFORMED'],
    ['empty name', GO_VKEY.replace('PeterNeumann', ''), 'NOTE_KEY_MALFORMED'],
    ['name with a space', GO_VKEY.replace('PeterNeumann', 'Peter Neumann'), 'NOTE_KEY_MALFORMED'],
    ['trailing newline', `${GO_VKEY}\n`, 'NOTE_KEY_MALFORMED'],
    ['key type 0x02', GO_VKEY.replace('ARpc', 'Alpc'), 'NOTE_KEY_MALFORMED'],
    ['key of 31 bytes', `PeterNeumann+c74f20a3+${Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]).toString('base64')}`, 'NOTE_KEY_MALFORMED'],
    ['id of another key', GO_VKEY.replace('c74f20a3', 'c74f20a4'), 'NOTE_KEY_ID_MISMATCH'],
    ['id of another name', GO_VKEY.replace('PeterNeumann', 'PeterNeumann2'), 'NOTE_KEY_ID_MISMATCH'],
  ];
  for (const [what, vkey, code] of keyCases) {
    it(`verifier key with ${what}: ${code}`, () => assert.equal(codeOf(() => parseVerifierKey(vkey)), code));
  }

  it('signNote refuses caller mistakes with TypeError', () => {
    assert.throws(() => signNote('no newline', 'k', privateKey), TypeError);
    assert.throws(() => signNote('tab\there\n', 'k', privateKey), TypeError);
    assert.throws(() => signNote('x\n', 'has space', privateKey), TypeError);
    assert.throws(() => signNote('x\n', 'a+b', privateKey), TypeError);
    assert.throws(() => signNote('x\n', 'k', createPublicKey(privateKey)), TypeError);
    assert.throws(() => signNote('x\n', 'k', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), TypeError);
  });
});

describe('signed-note: names and round trips', () => {
  it('isValidNoteName follows C2SP', () => {
    for (const ok of ['a', 'example.com/log', 'PeterNeumann', 'gate-1.example/receipts', 'ünïcode']) assert.ok(isValidNoteName(ok), ok);
    for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\nb', 'a\u2003b', 'a\u0085b', '\ud800']) assert.ok(!isValidNoteName(bad), JSON.stringify(bad));
  });

  it('sign then open, for random texts and names', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    const name = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).filter(isValidNoteName);
    fc.assert(fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), name, (lines, n) => {
      const text = `${lines.join('\n')}\n`;
      const note = signNote(text, n, privateKey);
      assert.equal(openNote(note, verifierKey(n, publicKey)), text);
    }), { numRuns: 200 });
  });
});
