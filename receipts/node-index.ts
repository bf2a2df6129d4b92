/**
 * The node index of the receipt log: derived data that lets the gate serve inclusion and
 * consistency proofs without holding the tree in memory (SPEC §9, §10).
 *
 * `<receipts.dir>/.tree/level-NN` holds, for level NN, the hash of every perfect subtree
 * completed so far (node i covers leaves [i·2^NN, (i+1)·2^NN)), 32 bytes each at offset 32·i;
 * `.tree/offsets` holds, for every entry seq, the byte offset of its line in its file (8 bytes,
 * big-endian). About 72 bytes per entry in all; a proof reads O(log n) of them with pread, so its
 * cost does not grow with the log beyond the depth of the tree.
 *
 * Invariants:
 * - Only the writer thread writes it, and only after a commit is durable: the index never holds
 *   a node of an entry that is not sealed by a checkpoint. It is not fsync'ed (it is derived):
 *   at open it is checked against the newest checkpoint's root and rebuilt from the log when
 *   missing, short or wrong (recover-log.ts), and every proof served is verified against its
 *   checkpoint before it is answered (log-proofs.ts).
 * - Writes are positional, so re-writing a node after a restart is harmless; `truncate(size)`
 *   drops whatever lies past a tree of `size` leaves.
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { HASH_SIZE, type NodeSource } from './tlog/merkle.js';
import { writeFullySync } from './log-file.js';

export const INDEX_DIR = '.tree';
const OFFSET_SIZE = 8;

/** A node completed by a commit: what CompactRange.append reports. */
export type IndexNode = [level: number, index: number, hash: Buffer];

export class NodeIndex implements NodeSource {
  readonly dir: string;
  readonly #fds = new Map<string, number>();
  readonly #writable: boolean;

  constructor(receiptsDir: string, o: { writable: boolean }) {
    this.dir = path.join(receiptsDir, INDEX_DIR);
    this.#writable = o.writable;
    if (o.writable) mkdirSync(this.dir, { recursive: true, mode: 0o750 });
  }

  #fd(name: string): number {
    let fd = this.#fds.get(name);
    if (fd === undefined) {
      const file = path.join(this.dir, name);
      fd = this.#writable ? openSync(file, constants.O_RDWR | constants.O_CREAT, 0o640) : openSync(file, constants.O_RDONLY);
      this.#fds.set(name, fd);
    }
    return fd;
  }

  #read(name: string, position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let off = 0;
    let fd: number;
    try {
      fd = this.#fd(name);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RangeError(`node index has no ${name}`);
      throw e;
    }
    while (off < length) {
      const n = readSync(fd, buf, off, length - off, position + off);
      if (n === 0) throw new RangeError(`node index ${name} is short (want bytes ${position}..${position + length})`);
      off += n;
    }
    return buf;
  }

  node(level: number, index: number): Buffer {
    return this.#read(levelName(level), index * HASH_SIZE, HASH_SIZE);
  }

  /** Byte offset of entry `seq`'s line in its file. */
  entryOffset(seq: number): number {
    return Number(this.#read('offsets', seq * OFFSET_SIZE, OFFSET_SIZE).readBigUInt64BE(0));
  }

  /** Number of nodes stored at `level` (0 for a missing file). */
  count(level: number): number {
    try {
      return Math.floor(fstatSync(this.#fd(levelName(level))).size / HASH_SIZE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  /** Number of entry offsets stored. */
  offsetCount(): number {
    try {
      return Math.floor(fstatSync(this.#fd('offsets')).size / OFFSET_SIZE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
  }

  /**
   * Writes the nodes a commit completed and the offsets of its entries (the first being entry
   * `firstSeq`): one positional write per level touched and one for the offsets.
   */
  append(nodes: readonly IndexNode[], firstSeq: number, offsets: readonly number[]): void {
    const byLevel = new Map<number, IndexNode[]>();
    for (const n of nodes) {
      let l = byLevel.get(n[0]);
      if (!l) byLevel.set(n[0], (l = []));
      l.push(n);
    }
    for (const [level, list] of byLevel) {
      // A commit completes consecutive nodes at each level, in order.
      const buf = Buffer.concat(list.map((n) => n[2]));
      writeFullySync(this.#fd(levelName(level)), buf, list[0]![1] * HASH_SIZE);
    }
    if (offsets.length > 0) {
      const buf = Buffer.alloc(offsets.length * OFFSET_SIZE);
      offsets.forEach((o, i) => buf.writeBigUInt64BE(BigInt(o), i * OFFSET_SIZE));
      writeFullySync(this.#fd('offsets'), buf, firstSeq * OFFSET_SIZE);
    }
  }

  /** Drops everything past a tree of `size` leaves. */
  truncate(size: number): void {
    for (let level = 0; ; level++) {
      const keep = Math.floor(size / 2 ** level);
      const have = this.count(level);
      if (have === 0 && keep === 0) break;
      if (have > keep) ftruncateSync(this.#fd(levelName(level)), keep * HASH_SIZE);
    }
    if (this.offsetCount() > size) ftruncateSync(this.#fd('offsets'), size * OFFSET_SIZE);
  }

  close(): void {
    for (const fd of this.#fds.values()) {
      try { closeSync(fd); } catch { /* already closed */ }
    }
    this.#fds.clear();
  }
}

function levelName(level: number): string {
  return `level-${String(level).padStart(2, '0')}`;
}
