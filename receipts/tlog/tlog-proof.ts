/**
 * Proof texts of the receipt log (SPEC §9, §10): c2sp.org/tlog-proof@v1 inclusion proofs, and
 * consistency proofs as base64 hash lines, optionally followed by the checkpoint they reach.
 */
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint.js';
import { HASH_SIZE, leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { decodeBase64Strict, parseVerifierKey, type NoteVerifier } from './signed-note.js';

export type TlogProofErrorCode =
  | 'TLOG_PROOF_MALFORMED'
  | 'TLOG_PROOF_NO_EXTRA'
  | 'TLOG_PROOF_INDEX_OUT_OF_RANGE'
  | 'TLOG_PROOF_INVALID'
  | 'CONSISTENCY_PROOF_MALFORMED'
  | 'CONSISTENCY_PROOF_INVALID';

/** A proof text that does not parse or does not prove what it claims. */
export class TlogProofError extends Error {
  override name = 'TlogProofError';
  constructor(readonly code: TlogProofErrorCode, message: string) {
    super(message);
  }
}

/** The parts of a tlog-proof text; `extra` is null when the optional extra line is absent. */
export interface TlogProof {
  extra: Buffer | null;
  index: number;
  path: Buffer[];
  checkpoint: string;
}

/** What a verified tlog-proof establishes: `entry` is leaf `index` of the tree `root` of `size` entries. */
export interface VerifiedTlogProof {
  index: number;
  size: number;
  root: Buffer;
  entry: Buffer;
  origin: string;
  checkpoint: OpenedCheckpoint;
}

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
const INDEX_LINE = /^index (0|[1-9][0-9]*)$/;

function hashLines(path: readonly Uint8Array[]): string {
  return path.map((h) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) throw new TypeError('a proof path holds 32-byte hashes');
    return `${Buffer.from(h).toString('base64')}\n`;
  }).join('');
}

function parseHash(line: string, code: TlogProofErrorCode): Buffer {
  const h = decodeBase64Strict(line);
  if (h === null || h.length !== HASH_SIZE) throw new TlogProofError(code, `not a base64 SHA-256 hash line: ${JSON.stringify(line.slice(0, 60))}`);
  return h;
}

/** The tlog-proof text: header, `extra`, `index`, the path lines, an empty line, the checkpoint note verbatim. */
export function formatTlogProof(p: { extra: Uint8Array | null; index: number; path: readonly Uint8Array[]; checkpoint: string }): string {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw new TypeError(`index must be a non-negative safe integer, got ${p.index}`);
  if (typeof p.checkpoint !== 'string' || p.checkpoint === '') throw new TypeError('a tlog-proof needs its checkpoint note');
  const extra = p.extra === null ? '' : `extra ${Buffer.from(p.extra).toString('base64')}\n`;
  return `${TLOG_PROOF_HEADER}\n${extra}index ${p.index}\n${hashLines(p.path)}\n${p.checkpoint}`;
}

/**
 * Parses a tlog-proof text (nothing is verified). The proof lines are non-empty, so the
 * first empty line ends them and everything after it is the checkpoint note.
 */
export function parseTlogProof(text: string): TlogProof {
  const bad = (why: string): TlogProofError => new TlogProofError('TLOG_PROOF_MALFORMED', `malformed tlog-proof: ${why}`);
  if (typeof text !== 'string') throw bad('not a string');
  const split = text.indexOf('\n\n');
  if (split < 0) throw bad('no empty line before the checkpoint');
  const lines = text.slice(0, split).split('\n');
  const checkpoint = text.slice(split + 2);
  if (lines[0] !== TLOG_PROOF_HEADER) throw bad(`first line is not ${TLOG_PROOF_HEADER}`);
  let at = 1;
  let extra: Buffer | null = null;
  if (lines[at]?.startsWith('extra ')) {
    extra = decodeBase64Strict(lines[at]!.slice('extra '.length));
    if (extra === null) throw bad('extra is not standard base64');
    at++;
  }
  const m = INDEX_LINE.exec(lines[at] ?? '');
  if (m === null || !Number.isSafeInteger(Number(m[1]))) throw bad(`no index line where expected: ${JSON.stringify((lines[at] ?? '').slice(0, 40))}`);
  const path = lines.slice(at + 1).map((l) => parseHash(l, 'TLOG_PROOF_MALFORMED'));
  if (checkpoint === '') throw bad('no checkpoint after the empty line');
  return { extra, index: Number(m[1]), path, checkpoint };
}

/**
 * Verifies a tlog-proof against the log's verifier key: the checkpoint must open (NoteError or
 * CheckpointError otherwise), the proof must carry the entry bytes as `extra`
 * (TLOG_PROOF_NO_EXTRA), the index must be below the checkpoint's size
 * (TLOG_PROOF_INDEX_OUT_OF_RANGE), and the path must lead from `leafHash(extra)` at that
 * index to the checkpoint's root (TLOG_PROOF_INVALID).
 */
export function verifyTlogProof(text: string, verifier: NoteVerifier | string): VerifiedTlogProof {
  const v = typeof verifier === 'string' ? parseVerifierKey(verifier) : verifier;
  const p = parseTlogProof(text);
  const cp = openCheckpoint(p.checkpoint, v);
  if (p.extra === null) throw new TlogProofError('TLOG_PROOF_NO_EXTRA', 'tlog-proof carries no entry bytes (extra line)');
  if (p.index >= cp.size) {
    throw new TlogProofError('TLOG_PROOF_INDEX_OUT_OF_RANGE', `index ${p.index} is not in the checkpoint's tree of size ${cp.size}`);
  }
  if (!verifyInclusion(p.index, cp.size, leafHash(p.extra), p.path, cp.root)) {
    throw new TlogProofError('TLOG_PROOF_INVALID', `the path does not prove the entry at index ${p.index} under the checkpoint's root`);
  }
  return { index: p.index, size: cp.size, root: cp.root, entry: p.extra, origin: cp.origin, checkpoint: cp };
}

/** A consistency proof as text: one base64 hash a line (the empty string for an empty path). */
export function formatConsistencyProof(path: readonly Uint8Array[]): string {
  return hashLines(path);
}

/** Reads the hash lines formatConsistencyProof writes; throws CONSISTENCY_PROOF_MALFORMED. */
export function parseConsistencyProof(text: string): Buffer[] {
  if (typeof text !== 'string' || (text !== '' && !text.endsWith('\n'))) {
    throw new TlogProofError('CONSISTENCY_PROOF_MALFORMED', 'consistency proof lines must each end with a newline');
  }
  return text === '' ? [] : text.slice(0, -1).split('\n').map((l) => parseHash(l, 'CONSISTENCY_PROOF_MALFORMED'));
}

/** The `/receipts/consistency` answer: the path lines, an empty line, the checkpoint note. */
export function formatConsistencyAnswer(path: readonly Uint8Array[], note: string): string {
  return `${formatConsistencyProof(path)}\n${note}`;
}

/**
 * Splits a `/receipts/consistency` answer into its path and checkpoint note. With an empty
 * path (m = 0 or m = n) the text begins with the empty line.
 */
export function parseConsistencyAnswer(text: string): { path: Buffer[]; checkpoint: string } {
  if (typeof text !== 'string') throw new TlogProofError('CONSISTENCY_PROOF_MALFORMED', 'not a string');
  const split = text.startsWith('\n') ? -1 : text.indexOf('\n\n');
  if (split < 0 && !text.startsWith('\n')) throw new TlogProofError('CONSISTENCY_PROOF_MALFORMED', 'no empty line before the checkpoint');
  const path = parseConsistencyProof(text.slice(0, split + 1));
  const checkpoint = text.slice(split + 2);
  if (checkpoint === '') throw new TlogProofError('CONSISTENCY_PROOF_MALFORMED', 'no checkpoint after the empty line');
  return { path, checkpoint };
}

/**
 * Verifies a `/receipts/consistency` answer against a tree seen before (`old`, e.g. a saved
 * checkpoint): the answer's checkpoint must open, be at least as large, and the path must
 * prove `old` a prefix of it (CONSISTENCY_PROOF_INVALID). Returns the newer checkpoint.
 */
export function verifyConsistencyAnswer(text: string, verifier: NoteVerifier | string, old: { size: number; root: Uint8Array }): OpenedCheckpoint {
  const { path, checkpoint } = parseConsistencyAnswer(text);
  const cp = openCheckpoint(checkpoint, verifier);
  if (!verifyConsistency(old.size, cp.size, old.root, cp.root, path)) {
    throw new TlogProofError('CONSISTENCY_PROOF_INVALID', `the path does not prove the tree of size ${old.size} a prefix of the checkpoint's tree of size ${cp.size}`);
  }
  return cp;
}
