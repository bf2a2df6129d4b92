/**
 * c2sp.org/signed-note with Ed25519 signatures (signature type 0x01), read and written as
 * golang.org/x/mod/sumdb/note does.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type NoteErrorCode =
  | 'NOTE_MALFORMED'
  | 'NOTE_UNVERIFIED'
  | 'NOTE_SIGNATURE_INVALID'
  | 'NOTE_KEY_MALFORMED'
  | 'NOTE_KEY_ID_MISMATCH';

/** A note or verifier key that does not open; `code` is stable, `message` says why. */
export class NoteError extends Error {
  override name = 'NoteError';
  constructor(readonly code: NoteErrorCode, message: string) {
    super(message);
  }
}

/** A parsed verifier key: who signs, the 4-byte key ID, the Ed25519 public key. */
export interface NoteVerifier {
  name: string;
  keyId: Buffer;
  publicKey: KeyObject;
}

/** One signature line of a note, not yet verified. */
export interface NoteSignature {
  name: string;
  keyId: Buffer;
  signature: Buffer;
}

const ED25519_TYPE = 0x01;
const SIG_PREFIX = '\u2014 '; // EM DASH, SPACE
const MAX_SIGNATURES = 100; // as Go: bounds the work an untrusted note can cause
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// Go's unicode.IsSpace: ASCII white space, NEL, and Unicode category Z.
const SPACE = /[\t\n\v\f\r \u0085\p{Z}]/u;
// A note is UTF-8 without ASCII control characters other than newline.
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;

function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** Standard base64 (RFC 4648 §4) with padding, in canonical form only; null otherwise. */
export function decodeBase64Strict(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null;
}

/** A key name as C2SP allows: non-empty, well-formed, no Unicode space, no `+`. */
export function isValidNoteName(name: string): boolean {
  return typeof name === 'string' && name !== '' && wellFormed(name) && !SPACE.test(name) && !name.includes('+');
}

function rawEd25519(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'ed25519') throw new TypeError('a note key must be an Ed25519 KeyObject');
  return Buffer.from(pub.export({ format: 'jwk' }).x!, 'base64url');
}

function assertName(name: string): void {
  if (!isValidNoteName(name)) throw new TypeError(`not a valid note key name: ${JSON.stringify(name)}`);
}

/** The key ID: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || 32-byte public key). */
export function noteKeyId(name: string, rawPublicKey: Uint8Array): Buffer {
  if (rawPublicKey.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return createHash('sha256').update(`${name}\n`, 'utf8').update(Buffer.from([ED25519_TYPE])).update(rawPublicKey).digest().subarray(0, 4);
}

/** The verifier key text `<name>+<key ID, 8 hex>+<base64(0x01 || key)>`. */
export function verifierKey(name: string, publicKey: KeyObject): string {
  assertName(name);
  const raw = rawEd25519(publicKey);
  return `${name}+${noteKeyId(name, raw).toString('hex')}+${Buffer.concat([Buffer.from([ED25519_TYPE]), raw]).toString('base64')}`;
}

/** Parses a verifier key (exactly, no surrounding white space) and checks its ID against its name and key. */
export function parseVerifierKey(text: string): NoteVerifier {
  // Names hold no '+', so the first two split the key; its base64 may hold '+' itself.
  const [name, hex, ...rest] = typeof text === 'string' ? text.split('+') : [];
  const b64 = rest.join('+');
  if (name === undefined || hex === undefined || rest.length === 0 || !isValidNoteName(name) || !/^[0-9a-fA-F]{8}$/.test(hex)) {
    throw new NoteError('NOTE_KEY_MALFORMED', `not a verifier key <name>+<hex id>+<base64 key>: ${JSON.stringify(String(text).slice(0, 80))}`);
  }
  const key = decodeBase64Strict(b64);
  if (key === null || key.length !== 33 || key[0] !== ED25519_TYPE) {
    throw new NoteError('NOTE_KEY_MALFORMED', 'verifier key is not an Ed25519 key (type 0x01 and 32 bytes)');
  }
  const raw = key.subarray(1);
  const keyId = noteKeyId(name, raw);
  if (keyId.toString('hex') !== hex.toLowerCase()) {
    throw new NoteError('NOTE_KEY_ID_MISMATCH', `verifier key id ${hex} is not that of its name and key (${keyId.toString('hex')})`);
  }
  const publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  return { name, keyId, publicKey };
}

/**
 * Signs note text: `text + "\n" + "— <name> <base64(keyId || signature)>\n"`. The text must
 * end with a newline and be a valid note text; the key must be an Ed25519 private key.
 */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  assertName(name);
  if (typeof text !== 'string' || !text.endsWith('\n') || CONTROL.test(text) || !wellFormed(text)) {
    throw new TypeError('note text must be well-formed UTF-8 without control characters and end with a newline');
  }
  if (privateKey.type !== 'private') throw new TypeError('signNote needs a private KeyObject');
  const keyId = noteKeyId(name, rawEd25519(privateKey));
  const sig = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${SIG_PREFIX}${name} ${Buffer.concat([keyId, sig]).toString('base64')}\n`;
}

const malformed = (why: string): NoteError => new NoteError('NOTE_MALFORMED', `malformed note: ${why}`);

/**
 * Splits a note into its text and signature lines, checking the C2SP syntax (nothing is
 * verified): no control characters but newline, the signature block after the LAST blank
 * line, every line of it `— <name> <base64>` with at least 5 decoded bytes, at most 100.
 */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (typeof note !== 'string') throw malformed('not a string');
  if (CONTROL.test(note) || !wellFormed(note)) throw malformed('control character or ill-formed UTF-8');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no blank line before the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw malformed('no signature lines, or no final newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformed(`more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map((line) => {
    if (!line.startsWith(SIG_PREFIX)) throw malformed(`signature line does not start with an em dash and a space: ${JSON.stringify(line.slice(0, 60))}`);
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    const b64 = sp < 0 ? '' : rest.slice(sp + 1);
    const bytes = decodeBase64Strict(b64);
    if (!isValidNoteName(name) || b64 === '' || bytes === null || bytes.length < 5) {
      throw malformed(`bad signature line: ${JSON.stringify(line.slice(0, 60))}`);
    }
    return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a note with one verifier (a parsed key or its text): returns the note's text when
 * the first signature by that name and key ID verifies. Other signatures (cosigners, other
 * keys) are ignored, and later repeats of the verifier's own are dropped, as Go's note.Open
 * does. Throws NoteError: NOTE_MALFORMED, NOTE_UNVERIFIED (no signature by this key), or
 * NOTE_SIGNATURE_INVALID (its signature does not verify).
 */
export function openNote(note: string, verifier: NoteVerifier | string): string {
  const v = typeof verifier === 'string' ? parseVerifierKey(verifier) : verifier;
  const { text, signatures } = parseNote(note);
  const mine = signatures.find((s) => s.name === v.name && s.keyId.equals(v.keyId));
  if (mine === undefined) throw new NoteError('NOTE_UNVERIFIED', `note has no signature by ${v.name}+${v.keyId.toString('hex')}`);
  let ok = false;
  try {
    ok = verify(null, Buffer.from(text, 'utf8'), v.publicKey, mine.signature);
  } catch {
    ok = false; // a signature of the wrong length is a bad signature, not a bug
  }
  if (!ok) throw new NoteError('NOTE_SIGNATURE_INVALID', `the signature by ${v.name}+${v.keyId.toString('hex')} does not verify`);
  return text;
}
