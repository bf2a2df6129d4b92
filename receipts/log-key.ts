/**
 * The key a receipt log is checked with (SPEC §2, §9): either the log's verifier key text
 * (`<origin>+<key id>+<base64(0x01||pubkey)>`, as admin `GET /receipts/key` serves it) or a
 * JWKS / JWK holding its Ed25519 public key, whose origin then comes from the checkpoints (the
 * key id in their signature lines must match that origin and key). Readers open every
 * checkpoint through one CheckpointOpener, which also holds the log to one origin.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { openCheckpoint, type OpenedCheckpoint } from './tlog/checkpoint.js';
import { parseVerifierKey, verifierKey, type NoteVerifier } from './tlog/signed-note.js';

export type { OpenedCheckpoint };

/** A key file that cannot be used at all (unreadable, not a verifier key, no Ed25519 key). */
export class LogKeyError extends Error {
  override name = 'LogKeyError';
  readonly code = 'RECEIPT_KEY_INVALID';
}

/** A checkpoint that does not open with the key, or breaks the log's one origin. */
export class CheckpointOpenError extends Error {
  override name = 'CheckpointOpenError';
  readonly code = 'CHECKPOINT_INVALID';
}

export interface LogKey {
  /** The origin a verifier key names; undefined for a JWKS (then the checkpoints name it). */
  readonly origin: string | undefined;
  /** What to say about the key in messages. */
  readonly describe: string;
  /** The verifiers to try for checkpoints of `origin`. */
  verifiersFor(origin: string): NoteVerifier[];
}

function ed25519Keys(j: unknown): KeyObject[] {
  const o = j as { keys?: unknown };
  const list = Array.isArray(o?.keys) ? (o.keys as unknown[]) : [j];
  const out: KeyObject[] = [];
  for (const k of list) {
    const jwk = k as { kty?: unknown; crv?: unknown; x?: unknown };
    if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
    try {
      out.push(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }));
    } catch {
      // A malformed entry is not a key; the others may still be.
    }
  }
  return out;
}

/** The LogKey of a key file's text: JSON is a JWKS or JWK, anything else a verifier key. */
export function parseLogKey(text: string, what = 'key'): LogKey {
  const t = text.trim();
  if (t.startsWith('{')) {
    let j: unknown;
    try {
      j = JSON.parse(t);
    } catch {
      throw new LogKeyError(`${what} is neither a verifier key nor JSON`);
    }
    const keys = ed25519Keys(j);
    if (keys.length === 0) throw new LogKeyError(`${what} holds no Ed25519 public key (kty OKP, crv Ed25519)`);
    return {
      origin: undefined,
      describe: `the Ed25519 key${keys.length > 1 ? 's' : ''} of ${what}`,
      verifiersFor: (origin) => keys.map((k) => parseVerifierKey(verifierKey(origin, k))),
    };
  }
  let v: NoteVerifier;
  try {
    v = parseVerifierKey(t);
  } catch (e) {
    throw new LogKeyError(`${what} is not a verifier key: ${(e as Error).message}`);
  }
  const origin = t.slice(0, t.indexOf('+'));
  return { origin, describe: `the verifier key ${t.slice(0, t.lastIndexOf('+'))}`, verifiersFor: (o) => (o === origin ? [v] : []) };
}

/** Reads and parses a key file (--key). */
export async function loadLogKey(file: string): Promise<LogKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new LogKeyError(`cannot read key ${file}: ${(e as Error).message}`);
  }
  return parseLogKey(text, `key ${file}`);
}

/** The origin line of a note (its first line), read without verifying anything. */
export function noteOrigin(note: string): string {
  const nl = note.indexOf('\n');
  return nl < 0 ? note : note.slice(0, nl);
}

/**
 * Opens the checkpoints of one log: each must be signed by a key of `key` for its origin, and
 * every one has the origin of the first. Any key of a JWKS may sign any checkpoint, so a log
 * that spans a receipt-key rotation verifies with a JWKS holding both; the key that opened
 * the last checkpoint is tried first.
 */
export class CheckpointOpener {
  #last: NoteVerifier | undefined;
  #origin: string | undefined;
  #candidates: NoteVerifier[] = [];

  constructor(readonly key: LogKey) {}

  /** The origin of the checkpoints opened so far. */
  get origin(): string | undefined {
    return this.#origin;
  }

  open(note: string): OpenedCheckpoint {
    const origin = noteOrigin(note);
    if (this.#origin !== undefined && origin !== this.#origin) {
      throw new CheckpointOpenError(`checkpoint origin ${JSON.stringify(origin)}, but the log's origin is ${JSON.stringify(this.#origin)} (the origin never changes)`);
    }
    if (this.key.origin !== undefined && origin !== this.key.origin) {
      throw new CheckpointOpenError(`checkpoint origin ${JSON.stringify(origin)} is not the key's origin ${JSON.stringify(this.key.origin)}`);
    }
    if (this.#origin === undefined) this.#candidates = this.key.verifiersFor(origin);
    const order = this.#last ? [this.#last, ...this.#candidates.filter((v) => v !== this.#last)] : this.#candidates;
    let first: Error | undefined;
    for (const v of order) {
      try {
        const c = openCheckpoint(note, v);
        this.#last = v;
        this.#origin = origin;
        return c;
      } catch (e) {
        first ??= e as Error;
      }
    }
    throw new CheckpointOpenError(`checkpoint signature does not verify with ${this.key.describe}${first ? ` (${first.message})` : ''}`);
  }
}
