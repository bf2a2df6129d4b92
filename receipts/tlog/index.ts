/**
 * The receipt log's transparency-log primitives (SPEC §9, §10): the RFC 9162 Merkle tree,
 * its compact incremental state, C2SP signed notes, checkpoints and proof texts. Pure: no
 * file or socket is touched here.
 */
export {
  EMPTY_ROOT, HASH_SIZE, MemoryNodeSource, consistencyPath, inclusionPath, leafHash, merkleRoot, nodeHash,
  rootFromInclusionPath, splitPoint, subtreeHash, verifyConsistency, verifyInclusion,
} from './merkle.js';
export type { NodeSource } from './merkle.js';
export { CompactRange } from './compact-range.js';
export type { CompactRangeJSON, OnNode } from './compact-range.js';
export {
  NoteError, decodeBase64Strict, isValidNoteName, noteKeyId, openNote, parseNote, parseVerifierKey, signNote, verifierKey,
} from './signed-note.js';
export type { NoteErrorCode, NoteSignature, NoteVerifier } from './signed-note.js';
export { CheckpointError, formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
export type { Checkpoint, CheckpointErrorCode, OpenedCheckpoint } from './checkpoint.js';
export {
  TLOG_PROOF_HEADER, TlogProofError, formatConsistencyAnswer, formatConsistencyProof, formatTlogProof,
  parseConsistencyAnswer, parseConsistencyProof, parseTlogProof, verifyConsistencyAnswer, verifyTlogProof,
} from './tlog-proof.js';
export type { TlogProof, TlogProofErrorCode, VerifiedTlogProof } from './tlog-proof.js';
