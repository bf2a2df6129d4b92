/**
 * Receipt lines (SPEC §9): pure functions to sign, hash, decode and verify them. A receipt line
 * is one compact JWS, `BASE64URL(header).BASE64URL(payload).BASE64URL(signature)`, signed with
 * Ed25519. The header is exactly `{"alg":"EdDSA","typ":"receipt+jwt","kid":…}` and the payload
 * is `JSON.stringify` of the object the log built, so the bytes on disk are the bytes signed:
 * verification never re-serializes anything.
 */
import { createHash, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify, type JsonWebKey as NodeJsonWebKey, type KeyObject } from 'node:crypto';

export const RECEIPT_TYP = 'receipt+jwt';
export const HEAD_TYP = 'receipt-head+jwt';

/** A signed head (SPEC §9): the newest line's seq and hash, saved by auditors. */
export interface ReceiptHead {
  seq: number;
  hash: string | null;
  ts: string;
}

export interface ReceiptPublicJwk extends NodeJsonWebKey {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

export interface ReceiptSigner {
  readonly kid: string;
  readonly publicJwk: ReceiptPublicJwk;
  /** The public key, for verifying this signer's own lines (recovery at open). */
  readonly publicKey: KeyObject;
  /** A receipt line (compact JWS, `typ: receipt+jwt`) of the payload. */
  sign(payload: object): string;
  /** The same, for a payload already serialized as JSON text. */
  signJson(payloadJson: string): string;
  /** A head JWS (`typ: receipt-head+jwt`). */
  signHead(head: ReceiptHead): string;
}

export interface DecodedReceipt {
  header: { alg?: unknown; typ?: unknown; kid?: unknown; [k: string]: unknown };
  payload: Record<string, unknown>;
}

export type ReceiptLineErrorCode =
  | 'RECEIPT_MALFORMED'
  | 'RECEIPT_ALG_INVALID'
  | 'RECEIPT_TYP_INVALID'
  | 'RECEIPT_KEY_UNKNOWN'
  | 'RECEIPT_SIGNATURE_INVALID';

/** A line that is not a valid receipt; `message` is the reason `receipts verify` prints. */
export class ReceiptLineError extends Error {
  override name = 'ReceiptLineError';
  constructor(readonly code: ReceiptLineErrorCode, message: string) {
    super(message);
  }
}

const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

function b64u(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** base64url SHA-256 of a line's bytes (without its newline): the chain's `prev` and a head's `hash`. */
export function lineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('base64url');
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key. */
export function ed25519Thumbprint(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

function assertEd25519Jwk(jwk: JsonWebKey, needPrivate: boolean): asserts jwk is JsonWebKey & { x: string } {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new TypeError('receipt key must be an Ed25519 JWK (kty OKP, crv Ed25519)');
  }
  if (needPrivate && typeof jwk.d !== 'string') throw new TypeError('receipt signing key has no private part (d)');
}

/**
 * A signer for receipt lines and heads. The key is imported once into a KeyObject and the
 * encoded headers are computed once: per line only the payload is encoded and signed.
 * kid: the JWK's `kid`, else its RFC 7638 thumbprint.
 */
export function createReceiptSigner(privateJwk: JsonWebKey & { kid?: string }): ReceiptSigner {
  const givenKid = privateJwk.kid;
  assertEd25519Jwk(privateJwk, true);
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }, format: 'jwk' });
  const publicKey = createPublicKey(key);
  const kid = typeof givenKid === 'string' && givenKid !== '' ? givenKid : ed25519Thumbprint(privateJwk.x);
  const lineHeader = b64u(JSON.stringify({ alg: 'EdDSA', typ: RECEIPT_TYP, kid }));
  const headHeader = b64u(JSON.stringify({ alg: 'EdDSA', typ: HEAD_TYP, kid }));
  const signWith = (encodedHeader: string, payloadJson: string): string => {
    const input = `${encodedHeader}.${b64u(payloadJson)}`;
    return `${input}.${edSign(null, Buffer.from(input, 'ascii'), key).toString('base64url')}`;
  };
  const signer: ReceiptSigner = Object.freeze({
    kid,
    publicKey,
    publicJwk: Object.freeze({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, kid, alg: 'EdDSA', use: 'sig' } as const),
    sign: (payload: object) => signWith(lineHeader, JSON.stringify(payload)),
    signJson: (payloadJson: string) => signWith(lineHeader, payloadJson),
    signHead: (head: ReceiptHead) => signWith(headHeader, JSON.stringify({ seq: head.seq, hash: head.hash, ts: head.ts })),
  });
  PRIVATE_JWKS.set(signer, { kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d, kid });
  return signer;
}

/**
 * The private JWK a signer was made from, kept off the signer object itself (so logging a
 * signer never prints key material): only the receipt log's writer thread asks for it.
 */
const PRIVATE_JWKS = new WeakMap<ReceiptSigner, JsonWebKey & { kid: string }>();
export function privateJwkOf(signer: ReceiptSigner): (JsonWebKey & { kid: string }) | undefined {
  return PRIVATE_JWKS.get(signer);
}

/**
 * Public keys by kid from a JWKS. Only Ed25519 keys are kept (receipts are EdDSA only); a key
 * without `kid` is filed under its thumbprint, as the signer names such a key. Private parts
 * (`d`) are ignored.
 */
export function importReceiptKeys(jwks: { keys?: unknown }): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  const keys = Array.isArray(jwks.keys) ? (jwks.keys as JsonWebKey[]) : [];
  for (const jwk of keys) {
    if (jwk === null || typeof jwk !== 'object' || jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
    const kid = typeof (jwk as { kid?: unknown }).kid === 'string' ? (jwk as { kid: string }).kid : ed25519Thumbprint(jwk.x);
    out.set(kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }));
  }
  return out;
}

function parseJsonPart(part: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new ReceiptLineError('RECEIPT_MALFORMED', `${what} is not base64url JSON`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ReceiptLineError('RECEIPT_MALFORMED', `${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Header and payload of a compact JWS line, without checking the signature. Throws ReceiptLineError. */
export function decodeReceiptLine(line: string): DecodedReceipt {
  const m = COMPACT_JWS.exec(line);
  if (!m) throw new ReceiptLineError('RECEIPT_MALFORMED', line === '' ? 'empty line' : 'not a compact JWS');
  return { header: parseJsonPart(m[1]!, 'header'), payload: parseJsonPart(m[2]!, 'payload') };
}

/**
 * Decodes a line and checks it is a receipt (or, with `typ: HEAD_TYP`, a head) signed by one
 * of `keysByKid`. Returns header and payload; throws ReceiptLineError with the reason.
 */
export function verifyReceiptLine(
  line: string,
  keysByKid: ReadonlyMap<string, KeyObject>,
  typ: string = RECEIPT_TYP,
): DecodedReceipt {
  const decoded = decodeReceiptLine(line);
  const { alg, typ: gotTyp, kid } = decoded.header;
  if (alg !== 'EdDSA') throw new ReceiptLineError('RECEIPT_ALG_INVALID', `alg ${JSON.stringify(alg)}, expected "EdDSA"`);
  if (gotTyp !== typ) throw new ReceiptLineError('RECEIPT_TYP_INVALID', `typ ${JSON.stringify(gotTyp)}, expected "${typ}"`);
  const key = typeof kid === 'string' ? keysByKid.get(kid) : undefined;
  if (!key) throw new ReceiptLineError('RECEIPT_KEY_UNKNOWN', `kid ${JSON.stringify(kid)} is not in the keys given`);
  const dot = line.lastIndexOf('.');
  const sig = Buffer.from(line.slice(dot + 1), 'base64url');
  // A non-canonical base64url spelling of a valid signature would be a different line that
  // still verifies; refusing it keeps "verifies" equivalent to "these exact bytes were signed".
  const canonical = sig.length === 64 && sig.toString('base64url') === line.slice(dot + 1);
  if (!canonical || !edVerify(null, Buffer.from(line.slice(0, dot), 'ascii'), key, sig)) throw new ReceiptLineError('RECEIPT_SIGNATURE_INVALID', 'signature does not verify');
  return decoded;
}
