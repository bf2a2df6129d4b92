/**
 * Inclusion and consistency proofs (SPEC §9) computed from the log files alone, by one
 * streaming pass: O(n) time, O(log n) memory, no leaf hash kept beyond the pass.
 *
 * Why this is sound without a copy of the proof algorithm: a path (RFC 9162 §2.1.3/§2.1.4) is
 * a function of a few subtree hashes chosen by (index, size) or (m, n) only, never by hash
 * values. So the tlog primitives' own `inclusionPath`/`consistencyPath` are run once against a
 * NodeSource that records which nodes they ask for (answering placeholders), the files are
 * streamed once feeding each leaf hash only into the CompactRange of the needed subtree that
 * contains it (the needed subtrees are O(log n) aligned ranges), and the primitives are run
 * again against the hashes so collected. A second run asking for a node the first did not is
 * a bug, and throws.
 */
import { CompactRange } from './tlog/compact-range.js';
import { consistencyPath, inclusionPath, leafHash, type NodeSource } from './tlog/merkle.js';
import { parseLogLine, type LogEntry } from './log-line.js';
import { readLogLines, type LogLine } from './log-lines.js';
import { newestCheckpoint } from './newest-checkpoint.js';

export type ProofErrorCode = 'NO_CHECKPOINT' | 'UNKNOWN_ENTRY' | 'NOT_SEALED' | 'LOG_INVALID' | 'BAD_SIZE';

/** The files cannot answer (no checkpoint, no such entry, an entry not yet sealed, a broken log). */
export class ProofError extends Error {
  override name = 'ProofError';
  constructor(readonly code: ProofErrorCode, message: string) {
    super(message);
  }
}

const key = (level: number, index: number): string => `${level}:${index}`;

interface Needed {
  level: number;
  index: number;
  start: number;
  end: number;
}

/** The nodes `plan` asks for, as leaf ranges sorted by start. */
function neededNodes(plan: (src: NodeSource) => unknown): Needed[] {
  const seen = new Map<string, Needed>();
  const placeholder = Buffer.alloc(32);
  plan({
    node(level: number, index: number): Buffer {
      const start = index * 2 ** level;
      seen.set(key(level, index), { level, index, start, end: start + 2 ** level });
      return placeholder;
    },
  });
  return [...seen.values()].sort((a, b) => a.start - b.start || b.end - a.end);
}

export interface StreamedLeaf {
  line: LogLine;
  entry: LogEntry;
  /** 0-based position among the entries of the log (its leaf index). */
  index: number;
}

/**
 * Streams `files` once: hashes the first `size` leaves into the needed subtrees of `plan`,
 * calls `onLeaf` for each entry (for the caller to pick the entry it proves), then runs `plan`
 * against the collected hashes.
 */
async function runPlan<T>(files: readonly string[], size: number, plan: (src: NodeSource) => T, onLeaf?: (leaf: StreamedLeaf) => void): Promise<T> {
  const needed = neededNodes(plan);
  const done = new Map<string, Buffer>();
  // Ranges whose leaves are being fed: usually one (the needed ranges are disjoint), at most
  // the O(log n) needed ranges should a plan ask for nested ones.
  const active: { n: Needed; cr: CompactRange }[] = [];
  let next = 0;
  let index = 0;
  for await (const line of readLogLines(files)) {
    // A torn last fragment is no line (recovery cuts it at the next start).
    if (!line.terminated) continue;
    let parsed;
    try {
      parsed = parseLogLine(line.bytes);
    } catch (e) {
      throw new ProofError('LOG_INVALID', `${line.file}:${line.lineNo}: ${(e as Error).message} (run receipts verify)`);
    }
    if (parsed.type !== 'entry') continue;
    if (parsed.entry.seq !== index) {
      throw new ProofError('LOG_INVALID', `${line.file}:${line.lineNo}: seq ${parsed.entry.seq}, expected ${index} (run receipts verify)`);
    }
    onLeaf?.({ line, entry: parsed.entry, index });
    if (index < size) {
      const h = leafHash(line.bytes);
      while (next < needed.length && needed[next]!.start === index) active.push({ n: needed[next++]!, cr: new CompactRange() });
      for (let i = active.length - 1; i >= 0; i--) {
        const a = active[i]!;
        a.cr.append(h);
        if (index + 1 === a.n.end) {
          done.set(key(a.n.level, a.n.index), a.cr.root());
          active.splice(i, 1);
        }
      }
    }
    index++;
  }
  if (index < size) throw new ProofError('LOG_INVALID', `the files hold ${index} entries, fewer than the checkpoint's tree size ${size} (run receipts verify)`);
  return plan({
    node(level: number, idx: number): Buffer {
      const h = done.get(key(level, idx));
      if (!h) throw new Error(`proof-from-files: node (${level}, ${idx}) was not asked for on the first run`);
      return h;
    },
  });
}

export interface InclusionFromFiles {
  /** The entry line's bytes (the leaf), without the newline. */
  entryBytes: Buffer;
  entry: LogEntry;
  index: number;
  path: Buffer[];
  /** The checkpoint note the path leads to (the newest of the files), verbatim. */
  checkpoint: string;
  size: number;
}

/** The seq of the entry with this id, by one pass over the files; a cheap byte search skips most lines. */
async function seqOfId(files: readonly string[], id: string): Promise<number> {
  const needle = Buffer.from(id, 'utf8');
  for await (const line of readLogLines(files)) {
    if (!line.bytes.includes(needle)) continue;
    try {
      const parsed = parseLogLine(line.bytes);
      if (parsed.type === 'entry' && parsed.entry.id === id) return parsed.entry.seq;
    } catch {
      // Not an entry: keep looking; the proving pass reports a broken log.
    }
  }
  throw new ProofError('UNKNOWN_ENTRY', `no entry with id ${id} in the files`);
}

/**
 * The inclusion path of one entry (by `seq`, or by `id`) against the newest checkpoint of
 * `files` (which are in log order). The checkpoint is not verified here: the proof is, by
 * whoever receives it (`receipts verify-proof`).
 */
export async function inclusionFromFiles(files: readonly string[], which: { seq: number } | { id: string }): Promise<InclusionFromFiles> {
  const cp = await newestCheckpoint(files);
  if (!cp) throw new ProofError('NO_CHECKPOINT', 'the files hold no checkpoint line');
  const index = 'seq' in which ? which.seq : await seqOfId(files, which.id);
  if (!Number.isSafeInteger(index) || index < 0) throw new ProofError('UNKNOWN_ENTRY', `no entry with seq ${index}`);
  if (index >= cp.size) {
    throw new ProofError('NOT_SEALED', `entry ${index} is not in the newest checkpoint of the files (tree size ${cp.size})`);
  }
  let found: StreamedLeaf | undefined;
  const path = await runPlan(files, cp.size, (src) => inclusionPath(src, index, cp.size), (leaf) => {
    if (leaf.index === index) found = leaf;
  });
  if (!found) throw new ProofError('UNKNOWN_ENTRY', `no entry with seq ${index} in the files`);
  return { entryBytes: found.line.bytes, entry: found.entry, index, path, checkpoint: cp.note, size: cp.size };
}

/** The consistency path from tree size `m` to size `n` (RFC 9162 §2.1.4) of the log in `files`. */
export async function consistencyFromFiles(files: readonly string[], m: number, n: number): Promise<Buffer[]> {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) throw new ProofError('BAD_SIZE', `no consistency proof from size ${m} to size ${n}`);
  return runPlan(files, n, (src) => consistencyPath(src, m, n));
}
