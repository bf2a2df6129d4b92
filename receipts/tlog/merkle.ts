/**
 * The RFC 9162 §2.1 Merkle tree: hashes, proof generation from stored nodes, and the
 * verifiers of §2.1.3.2 and §2.1.4.2.
 *
 * Sizes and indexes are JavaScript numbers and are kept below 2^53 (every check uses
 * `Number.isSafeInteger`); the arithmetic avoids 32-bit bitwise operators for that reason.
 */
import { createHash } from 'node:crypto';

/** Length in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({}): the root of the empty tree, SHA-256 of the empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** The leaf hash of an entry: SHA-256(0x00 || bytes). */
export function leafHash(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(bytes).digest();
}

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * Where storage keeps the tree: `node(level, index)` is the hash of the perfect subtree over
 * leaves `[index * 2^level, (index + 1) * 2^level)`; level 0 is the leaf hashes. Proof
 * generation only asks for nodes that lie wholly inside the tree it is asked about, so a
 * source needs to hold only the perfect nodes completed so far (what `CompactRange.append`
 * reports through `onNode`).
 */
export interface NodeSource {
  node(level: number, index: number): Buffer;
}

/** The largest power of two strictly less than n (n >= 2): RFC 9162's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** Math.round(Math.log2(n)) === n;
}

function assertSize(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${n}`);
}

/** MTH(D[n]) straight from the leaf hashes (RFC 9162 §2.1.1); the reference for tests and small inputs. */
export function merkleRoot(leafHashes: readonly Buffer[]): Buffer {
  const n = leafHashes.length;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leafHashes[0]!;
  const k = splitPoint(n);
  return nodeHash(merkleRoot(leafHashes.slice(0, k)), merkleRoot(leafHashes.slice(k)));
}

/**
 * MTH(D[start:end]) from stored nodes. The range must be one that RFC 9162's recursion
 * visits: start a multiple of the smallest power of two not below `end - start`. Then the
 * range splits, left to right, into perfect subtrees of strictly decreasing size, and
 * folding them from the right gives the RFC's hash. An empty range is the empty tree.
 */
export function subtreeHash(src: NodeSource, start: number, end: number): Buffer {
  assertSize('start', start);
  assertSize('end', end);
  if (end < start) throw new RangeError(`subtree [${start}, ${end}) is reversed`);
  const size = end - start;
  if (size === 0) return EMPTY_ROOT;
  let width = 1;
  while (width < size) width *= 2;
  if (start % width !== 0) throw new RangeError(`subtree [${start}, ${end}) is not aligned as RFC 9162 splits a tree`);
  const parts: Buffer[] = [];
  let at = start;
  let level = Math.log2(width);
  while (at < end) {
    while (at + 2 ** level > end) level--;
    parts.push(src.node(level, at / 2 ** level));
    at += 2 ** level;
  }
  let hash = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i]!, hash);
  return hash;
}

/**
 * PATH(index, D[size]) (RFC 9162 §2.1.3.1), from the leaf's sibling up. Reads O(log size)
 * nodes: every sibling is a perfect subtree except the first right-hand sibling on the
 * tree's right border, which splits into at most log2(size) perfect ones.
 */
export function inclusionPath(src: NodeSource, index: number, size: number): Buffer[] {
  assertSize('index', index);
  assertSize('size', size);
  if (index >= size) throw new RangeError(`index ${index} is not in a tree of size ${size}`);
  const path: Buffer[] = [];
  let lo = 0;
  let hi = size;
  // Invariant: [lo, hi) is a subtree of the RFC recursion that contains index.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(subtreeHash(src, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeHash(src, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * PROOF(m, D[n]) (RFC 9162 §2.1.4.1): empty for m = 0 and m = n, the SUBPROOF otherwise,
 * smallest subtree first.
 */
export function consistencyPath(src: NodeSource, m: number, n: number): Buffer[] {
  assertSize('m', m);
  assertSize('n', n);
  if (m > n) throw new RangeError(`no consistency proof from size ${m} to the smaller size ${n}`);
  if (m === 0 || m === n) return [];
  const path: Buffer[] = [];
  let lo = 0;
  let hi = n;
  let whole = true; // SUBPROOF's b: [lo, hi) is still the old tree's own root path
  // Invariant: [lo, hi) is a subtree of the recursion and lo < m <= hi.
  for (;;) {
    if (m === hi) {
      if (!whole) path.push(subtreeHash(src, lo, hi));
      break;
    }
    const k = splitPoint(hi - lo);
    if (m - lo <= k) {
      path.push(subtreeHash(src, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeHash(src, lo, lo + k));
      lo += k;
      whole = false;
    }
  }
  return path.reverse();
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/**
 * The root that an inclusion path leads to (RFC 9162 §2.1.3.2 steps 1–4), or null when the
 * path cannot be one for `index` in a tree of `size` (wrong length, index out of range,
 * a path element that is not a 32-byte hash).
 */
export function rootFromInclusionPath(index: number, size: number, leaf: Uint8Array, path: readonly Uint8Array[]): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  if (!isHash(leaf) || !Array.isArray(path)) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of path) {
    if (sn === 0 || !isHash(p)) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** True when `path` proves `leaf` at `index` in the tree of `size` whose root is `root`. Never throws. */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(root)) return false;
  const r = rootFromInclusionPath(index, size, leaf, path);
  return r !== null && equalHash(r, root);
}

/**
 * True when `path` proves that the tree of size m with root `rootM` is a prefix of the tree
 * of size n with root `rootN` (RFC 9162 §2.1.4.2). Never throws. Edge cases: m > n is false;
 * m = n holds only with an empty path and equal roots; m = 0 holds only with an empty path
 * and `rootM` the empty tree's root (every tree extends the empty one).
 */
export function verifyConsistency(m: number, n: number, rootM: Uint8Array, rootN: Uint8Array, path: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m < 0 || m > n) return false;
  if (!isHash(rootM) || !isHash(rootN) || !Array.isArray(path)) return false;
  if (m === n) return path.length === 0 && equalHash(rootM, rootN);
  if (m === 0) return path.length === 0 && equalHash(rootM, EMPTY_ROOT);
  if (path.length === 0 || !path.every(isHash)) return false;
  // A power-of-two old tree is itself a node of the new one, so its proof leaves it out.
  const full = isPowerOfTwo(m) ? [rootM, ...path] : path;
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
  let fr: Buffer = Buffer.from(full[0]!);
  let sr: Buffer = fr;
  for (let i = 1; i < full.length; i++) {
    const c = full[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(rootM) && sr.equals(rootN);
}

/**
 * A NodeSource over leaf hashes held in memory, for tests and small logs: every perfect node
 * is computed once, at construction.
 */
export class MemoryNodeSource implements NodeSource {
  readonly #levels: Buffer[][];

  constructor(leafHashes: readonly Buffer[]) {
    this.#levels = [leafHashes.slice()];
    for (let below = this.#levels[0]!; below.length >= 2;) {
      const up: Buffer[] = [];
      for (let i = 0; i + 1 < below.length; i += 2) up.push(nodeHash(below[i]!, below[i + 1]!));
      this.#levels.push(up);
      below = up;
    }
  }

  /** Number of leaves. */
  get size(): number {
    return this.#levels[0]!.length;
  }

  node(level: number, index: number): Buffer {
    const hash = this.#levels[level]?.[index];
    if (hash === undefined) throw new RangeError(`no perfect node at level ${level}, index ${index} in a tree of ${this.size} leaves`);
    return hash;
  }
}
