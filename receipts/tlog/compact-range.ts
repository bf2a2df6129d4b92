/**
 * The O(log n) state of an append-only RFC 9162 tree: enough to append and to compute the
 * root, without the leaves.
 */
import { EMPTY_ROOT, HASH_SIZE, nodeHash, type NodeSource } from './merkle.js';

/** Called for each perfect node an append completes: the leaf itself first, then its completed ancestors. */
export type OnNode = (level: number, index: number, hash: Buffer) => void;

/** The serialized form of a CompactRange (hashes in standard base64), safe for JSON and structured clone. */
export interface CompactRangeJSON {
  size: number;
  hashes: string[];
}

/** The perfect subtrees that make a tree of `size` leaves, left to right: [level, index] each. */
function decompose(size: number): Array<[level: number, index: number]> {
  const out: Array<[number, number]> = [];
  let at = 0;
  for (let level = Math.floor(Math.log2(Math.max(size, 1))); level >= 0; level--) {
    const width = 2 ** level;
    if (at + width <= size) {
      out.push([level, at / width]);
      at += width;
    }
  }
  return out;
}

/**
 * The roots of the perfect subtrees of a tree, left to right. Invariant: with
 * `size = 2^a + 2^b + …` (a > b > …, its binary digits), `hashes[i]` is the node over the
 * i-th of those blocks, so there is one hash per set bit of `size`.
 */
export class CompactRange {
  #size = 0;
  #hashes: Buffer[] = [];
  #root: Buffer | null = null;

  /** The state of the empty tree; the static constructors build any other. */
  constructor() {}

  static #of(size: number, hashes: Buffer[]): CompactRange {
    const r = new CompactRange();
    r.#size = size;
    r.#hashes = hashes;
    return r;
  }

  /** Rebuilds the state of a tree of `size` leaves from stored nodes: one read per set bit of size. */
  static fromNodeSource(src: NodeSource, size: number): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative safe integer, got ${size}`);
    return CompactRange.#of(size, decompose(size).map(([level, index]) => src.node(level, index)));
  }

  /** Reads the form `toJSON` writes; throws TypeError unless it is a consistent state. */
  static fromJSON(json: unknown): CompactRange {
    const j = json as Partial<CompactRangeJSON> | null;
    if (j === null || typeof j !== 'object' || !Number.isSafeInteger(j.size) || (j.size as number) < 0 || !Array.isArray(j.hashes)) {
      throw new TypeError('compact range JSON must be {size: non-negative integer, hashes: string[]}');
    }
    const size = j.size as number;
    const want = decompose(size).length;
    if (j.hashes.length !== want) throw new TypeError(`a tree of size ${size} has ${want} compact-range hashes, got ${j.hashes.length}`);
    const hashes = j.hashes.map((h) => {
      const b = typeof h === 'string' ? Buffer.from(h, 'base64') : null;
      if (b === null || b.length !== HASH_SIZE || b.toString('base64') !== h) throw new TypeError(`not a base64 SHA-256 hash: ${String(h).slice(0, 60)}`);
      return b;
    });
    return CompactRange.#of(size, hashes);
  }

  /** Number of leaves. */
  get size(): number {
    return this.#size;
  }

  /** The perfect-subtree roots, left to right (copies of the array, not of the hashes). */
  get hashes(): readonly Buffer[] {
    return this.#hashes.slice();
  }

  /**
   * Appends one leaf hash. A new leaf at index `size` merges with the stored roots of equal
   * size, one per trailing 1-bit of `size`, exactly as binary addition carries; each merge
   * completes a perfect node, which is reported to `onNode` before the state changes.
   */
  append(leaf: Buffer, onNode?: OnNode): void {
    if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) throw new TypeError('a leaf hash is 32 bytes');
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree is full');
    let hash: Buffer = Buffer.from(leaf);
    let index = this.#size;
    let level = 0;
    onNode?.(0, index, hash);
    const carried: Buffer[] = [];
    while (index % 2 === 1) {
      const left = this.#hashes[this.#hashes.length - 1 - carried.length]!;
      carried.push(left);
      hash = nodeHash(left, hash);
      index = (index - 1) / 2;
      level++;
      onNode?.(level, index, hash);
    }
    // The state changes only after every onNode call returned, so a throwing callback
    // (storage failed) leaves this range as it was.
    this.#hashes.length -= carried.length;
    this.#hashes.push(hash);
    this.#size++;
    this.#root = null;
  }

  /** MTH of the tree: the stored roots folded from the right; EMPTY_ROOT for size 0. */
  root(): Buffer {
    if (this.#root !== null) return this.#root;
    const h = this.#hashes;
    if (h.length === 0) return EMPTY_ROOT;
    let r = h[h.length - 1]!;
    for (let i = h.length - 2; i >= 0; i--) r = nodeHash(h[i]!, r);
    this.#root = r;
    return r;
  }

  /** An independent copy (hashes are never mutated in place, so sharing them is safe). */
  clone(): CompactRange {
    return CompactRange.#of(this.#size, this.#hashes.slice());
  }

  toJSON(): CompactRangeJSON {
    return { size: this.#size, hashes: this.#hashes.map((h) => h.toString('base64')) };
  }
}
