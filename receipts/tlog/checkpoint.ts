/**
 * c2sp.org/tlog-checkpoint: the signed statement "the log named <origin> has <size> entries
 * and this root".
 */
import type { KeyObject } from 'node:crypto';
import { HASH_SIZE } from './merkle.js';
import { decodeBase64Strict, openNote, parseVerifierKey, signNote, type NoteVerifier } from './signed-note.js';

export type CheckpointErrorCode = 'CHECKPOINT_MALFORMED' | 'CHECKPOINT_ORIGIN_MISMATCH';

/** A checkpoint body that breaks c2sp.org/tlog-checkpoint, or one signed for another origin. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(readonly code: CheckpointErrorCode, message: string) {
    super(message);
  }
}

/** What a checkpoint says. `extensions` are the optional lines after the root, in order. */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  extensions: string[];
}

/** A checkpoint read from a note whose signature verified, with the note itself. */
export interface OpenedCheckpoint extends Checkpoint {
  note: string;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * The checkpoint body `<origin>\n<size>\n<base64 root>\n`, then one line per extension.
 * Throws TypeError for values no checkpoint can hold.
 */
export function formatCheckpoint(cp: { origin: string; size: number; root: Uint8Array; extensions?: readonly string[] }): string {
  if (typeof cp.origin !== 'string' || cp.origin === '' || /[\u0000-\u001f]/.test(cp.origin)) {
    throw new TypeError('checkpoint origin must be a non-empty line');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new TypeError(`checkpoint size must be a non-negative safe integer, got ${cp.size}`);
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_SIZE) throw new TypeError('checkpoint root must be a 32-byte hash');
  const ext = cp.extensions ?? [];
  for (const e of ext) {
    if (typeof e !== 'string' || e === '' || /[\u0000-\u001f]/.test(e)) throw new TypeError('a checkpoint extension must be a non-empty line');
  }
  return [cp.origin, String(cp.size), Buffer.from(cp.root).toString('base64'), ...ext].map((l) => `${l}\n`).join('');
}

const malformed = (why: string): CheckpointError => new CheckpointError('CHECKPOINT_MALFORMED', `malformed checkpoint: ${why}`);

/**
 * Parses a checkpoint body strictly: newline-terminated lines, a non-empty origin, the size
 * in decimal without leading zeros (at most 2^53 - 1), the root in canonical standard base64
 * of exactly 32 bytes, then zero or more non-empty extension lines.
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw malformed('not newline-terminated');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('fewer than three lines');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') throw malformed('empty origin');
  if (!DECIMAL.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) throw malformed(`size ${JSON.stringify(sizeText.slice(0, 30))}`);
  const root = decodeBase64Strict(rootText);
  if (root === null || root.length !== HASH_SIZE) throw malformed(`root hash ${JSON.stringify(rootText.slice(0, 60))}`);
  if (extensions.some((e) => e === '')) throw malformed('empty extension line');
  return { origin, size: Number(sizeText), root, extensions };
}

/** Signs a checkpoint as a note under `name` (for the receipt log, the origin itself). */
export function signCheckpoint(
  cp: { origin: string; size: number; root: Uint8Array; extensions?: readonly string[] },
  name: string,
  privateKey: KeyObject,
): string {
  return signNote(formatCheckpoint(cp), name, privateKey);
}

/**
 * Opens a checkpoint note: the verifier's signature must verify (else the NoteError of
 * openNote), the body must parse (CHECKPOINT_MALFORMED), and its origin must be the
 * verifier key's name (CHECKPOINT_ORIGIN_MISMATCH), so that a key cannot vouch for
 * another log's tree.
 */
export function openCheckpoint(note: string, verifier: NoteVerifier | string): OpenedCheckpoint {
  const v = typeof verifier === 'string' ? parseVerifierKey(verifier) : verifier;
  const cp = parseCheckpoint(openNote(note, v));
  if (cp.origin !== v.name) {
    throw new CheckpointError('CHECKPOINT_ORIGIN_MISMATCH', `checkpoint origin ${JSON.stringify(cp.origin)} is not the key name ${JSON.stringify(v.name)}`);
  }
  return { ...cp, note };
}
