/**
 * Proofs served from the running log (SPEC §9, §10), on the main thread, from the node index
 * the writer thread keeps (node-index.ts): an inclusion proof reads O(log n) nodes and one
 * entry line with pread; nothing of the tree is held in memory but the newest checkpoint.
 *
 * Every proof is verified against its checkpoint before it is returned (a few dozen hashes):
 * the index is derived data and not fsync'ed, so a wrong node must never reach an auditor as
 * a proof that fails — it is an error here (ProofUnavailableError) instead.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { firstSeqOf, isLogFileName } from './log-lines.js';
import { NodeIndex } from './node-index.js';
import { parseCheckpoint } from './tlog/checkpoint.js';
import { CompactRange } from './tlog/compact-range.js';
import { consistencyPath, inclusionPath, leafHash, verifyConsistency, verifyInclusion, type NodeSource } from './tlog/merkle.js';
import { parseNote } from './tlog/signed-note.js';
import { formatConsistencyAnswer, formatTlogProof } from './tlog/tlog-proof.js';

/** The index cannot answer right now (a failed index write; rebuilt at the next start). */
export class ProofUnavailableError extends Error {
  override name = 'ProofUnavailableError';
}

/** The checkpoint proofs are made against: its note, size and root. */
export interface ProofCheckpoint {
  note: string;
  size: number;
  root: Buffer;
}

export function checkpointOf(note: string): ProofCheckpoint {
  const cp = parseCheckpoint(parseNote(note).text);
  return { note, size: cp.size, root: cp.root };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class LogProofs {
  readonly #dir: string;
  readonly #index: NodeIndex;

  constructor(dir: string) {
    this.#dir = dir;
    this.#index = new NodeIndex(dir, { writable: false });
  }

  /** Log file names, sorted (log order), as last listed: files are only ever added after the last. */
  #files: string[] = [];

  /**
   * The file holding entry `seq`: the last whose first seq is <= seq, by binary search over the
   * listed names. The folder is listed again only when that is the newest file listed (a newer
   * one may have been started since) or `fresh` asks for it, so an entry read costs O(log files)
   * instead of a listing of the whole folder.
   */
  #fileOf(seq: number, fresh = false): string | undefined {
    const pick = () => {
      let lo = 0;
      let hi = this.#files.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (firstSeqOf(this.#files[mid]!) <= seq) { at = mid; lo = mid + 1; } else hi = mid - 1;
      }
      return at;
    };
    let at = pick();
    if (fresh || at < 0 || at === this.#files.length - 1) {
      this.#files = readdirSync(this.#dir).filter(isLogFileName).sort();
      at = pick();
    }
    return at < 0 ? undefined : this.#files[at];
  }

  /** The bytes of entry `seq` (without its newline). */
  entry(seq: number): Buffer {
    let file = this.#fileOf(seq);
    if (file === undefined) throw new ProofUnavailableError(`no log file holds entry ${seq}`);
    let fd: number;
    try {
      fd = openSync(path.join(this.#dir, file), 'r');
    } catch (e) {
      // A file listed before and removed since (recovery cut an unsealed one): list again.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      file = this.#fileOf(seq, true);
      if (file === undefined) throw new ProofUnavailableError(`no log file holds entry ${seq}`);
      fd = openSync(path.join(this.#dir, file), 'r');
    }
    try {
      const offset = this.#index.entryOffset(seq);
      const chunks: Buffer[] = [];
      for (let at = offset; ;) {
        const buf = Buffer.allocUnsafe(4096);
        const n = readSync(fd, buf, 0, buf.length, at);
        if (n === 0) throw new ProofUnavailableError(`entry ${seq} has no end in ${file}`);
        const nl = buf.subarray(0, n).indexOf(10);
        if (nl >= 0) {
          chunks.push(buf.subarray(0, nl));
          return Buffer.concat(chunks);
        }
        chunks.push(buf.subarray(0, n));
        at += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The seq of the entry with this id in a tree of `size` entries, or undefined. Entry ids are
   * UUIDv7s that increase with seq (the log's generator is monotonic, and continues after the
   * last id of the log at open), so this is a binary search: O(log n) entry reads.
   */
  seqOfId(id: string, size: number): number | undefined {
    const want = id.toLowerCase();
    if (!UUID.test(want)) return undefined;
    let lo = 0;
    let hi = size - 1;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const got = idOf(this.entry(mid));
      if (got === want) return mid;
      if (got < want) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The tlog-proof of entry `seq` against `cp` (seq < cp.size). */
  inclusion(seq: number, cp: ProofCheckpoint): string {
    const entry = this.entry(seq);
    const path = this.#read(() => inclusionPath(this.#index, seq, cp.size));
    if (!verifyInclusion(seq, cp.size, leafHash(entry), path, cp.root)) {
      throw new ProofUnavailableError(`the node index does not prove entry ${seq} under the checkpoint of size ${cp.size}; it is rebuilt at the next start`);
    }
    return formatTlogProof({ extra: entry, index: seq, path, checkpoint: cp.note });
  }

  /** The consistency answer from size `m` to `cp` (m <= cp.size). */
  consistency(m: number, cp: ProofCheckpoint): string {
    const path = this.#read(() => consistencyPath(this.#index, m, cp.size));
    if (m > 0 && m < cp.size) {
      // The old root from the same index: the path must at least be consistent with it.
      const rootM = this.#read(() => subtreeRoot(this.#index, m));
      if (!verifyConsistency(m, cp.size, rootM, cp.root, path)) {
        throw new ProofUnavailableError(`the node index does not prove size ${m} a prefix of size ${cp.size}; it is rebuilt at the next start`);
      }
    }
    return formatConsistencyAnswer(path, cp.note);
  }

  close(): void {
    this.#index.close();
  }

  #read<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof RangeError) throw new ProofUnavailableError(e.message);
      throw e;
    }
  }
}

function idOf(entry: Buffer): string {
  const m = /^\{"v":2,"id":"([^"]*)"/.exec(entry.subarray(0, 80).toString('latin1'));
  return m ? m[1]!.toLowerCase() : '';
}

function subtreeRoot(src: NodeSource, size: number): Buffer {
  return CompactRange.fromNodeSource(src, size).root();
}
