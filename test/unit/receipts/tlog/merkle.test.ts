import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  EMPTY_ROOT, MemoryNodeSource, consistencyPath, inclusionPath, leafHash, merkleRoot, nodeHash,
  rootFromInclusionPath, subtreeHash, verifyConsistency, verifyInclusion, type NodeSource,
} from '../../../../receipts/tlog/merkle.js';

const hx = (h: string): Buffer => Buffer.from(h, 'hex');
const hex = (bs: readonly Buffer[]): string[] => bs.map((b) => b.toString('hex'));

// The Certificate Transparency / Trillian reference tree (RFC 6962 test data).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => leafHash(hx(h)));
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_INCLUSION: Array<[index: number, size: number, path: string[]]> = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [0, 1, []],
];
const CT_CONSISTENCY: Array<[m: number, n: number, path: string[]]> = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [2, 8, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

/** Leaves 0..n-1 with distinct contents. */
const leavesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));

/** A NodeSource that counts reads and refuses any node outside the tree of `size` leaves. */
function guarded(src: NodeSource, size: number): NodeSource & { reads: number } {
  const g = {
    reads: 0,
    node(level: number, index: number): Buffer {
      g.reads++;
      assert.ok((index + 1) * 2 ** level <= size, `node (${level}, ${index}) lies outside a tree of ${size}`);
      return src.node(level, index);
    },
  };
  return g;
}

describe('merkle: RFC 6962 / CT reference vectors', () => {
  it('EMPTY_ROOT and the roots of sizes 0-8', () => {
    assert.equal(EMPTY_ROOT.toString('hex'), CT_ROOTS[0]);
    for (let n = 0; n <= 8; n++) assert.equal(merkleRoot(CT_LEAVES.slice(0, n)).toString('hex'), CT_ROOTS[n], `size ${n}`);
    const src = new MemoryNodeSource(CT_LEAVES);
    for (let n = 0; n <= 8; n++) assert.equal(subtreeHash(src, 0, n).toString('hex'), CT_ROOTS[n], `subtreeHash size ${n}`);
  });

  it('leafHash and nodeHash are the RFC 6962 domain-separated hashes', () => {
    assert.equal(leafHash(new Uint8Array()).toString('hex'), CT_ROOTS[1]);
    assert.equal(nodeHash(CT_LEAVES[0]!, CT_LEAVES[1]!).toString('hex'), CT_ROOTS[2]);
  });

  for (const [index, size, want] of CT_INCLUSION) {
    it(`inclusion path of leaf ${index} in a tree of ${size}`, () => {
      const src = new MemoryNodeSource(CT_LEAVES.slice(0, size));
      assert.deepEqual(hex(inclusionPath(src, index, size)), want);
      const root = hx(CT_ROOTS[size]!);
      assert.equal(verifyInclusion(index, size, CT_LEAVES[index]!, want.map(hx), root), true);
      assert.equal(rootFromInclusionPath(index, size, CT_LEAVES[index]!, want.map(hx))?.toString('hex'), CT_ROOTS[size]);
    });
  }

  for (const [m, n, want] of CT_CONSISTENCY) {
    it(`consistency path ${m} -> ${n}`, () => {
      const src = new MemoryNodeSource(CT_LEAVES);
      assert.deepEqual(hex(consistencyPath(src, m, n)), want);
      assert.equal(verifyConsistency(m, n, hx(CT_ROOTS[m]!), hx(CT_ROOTS[n]!), want.map(hx)), true);
      if (m > 1) assert.equal(verifyConsistency(m, n, hx(CT_ROOTS[m - 1]!), hx(CT_ROOTS[n]!), want.map(hx)), false);
    });
  }
});

describe('merkle: edge cases return false, never throw', () => {
  const root8 = hx(CT_ROOTS[8]!);
  const path0 = CT_INCLUSION[0]![2].map(hx);
  const cases: Array<[string, () => boolean]> = [
    ['index = size', () => verifyInclusion(8, 8, CT_LEAVES[0]!, path0, root8)],
    ['negative index', () => verifyInclusion(-1, 8, CT_LEAVES[0]!, path0, root8)],
    ['size 0', () => verifyInclusion(0, 0, CT_LEAVES[0]!, [], EMPTY_ROOT)],
    ['fractional index', () => verifyInclusion(0.5, 8, CT_LEAVES[0]!, path0, root8)],
    ['path too long', () => verifyInclusion(0, 8, CT_LEAVES[0]!, [...path0, path0[0]!], root8)],
    ['path too short', () => verifyInclusion(0, 8, CT_LEAVES[0]!, path0.slice(0, 2), root8)],
    ['short hash in path', () => verifyInclusion(0, 8, CT_LEAVES[0]!, [path0[0]!.subarray(1), ...path0.slice(1)], root8)],
    ['short root', () => verifyInclusion(0, 8, CT_LEAVES[0]!, path0, root8.subarray(1))],
    ['size 1 with a path', () => verifyInclusion(0, 1, CT_LEAVES[0]!, [CT_LEAVES[1]!], CT_LEAVES[0]!)],
    ['consistency m > n', () => verifyConsistency(3, 2, hx(CT_ROOTS[3]!), hx(CT_ROOTS[2]!), [])],
    ['consistency m = n, different roots', () => verifyConsistency(4, 4, hx(CT_ROOTS[4]!), hx(CT_ROOTS[3]!), [])],
    ['consistency m = n, non-empty path', () => verifyConsistency(4, 4, hx(CT_ROOTS[4]!), hx(CT_ROOTS[4]!), [root8])],
    ['consistency m = 0, non-empty path', () => verifyConsistency(0, 8, EMPTY_ROOT, root8, [root8])],
    ['consistency m = 0, old root not the empty one', () => verifyConsistency(0, 8, root8, root8, [])],
    ['consistency empty path for m < n', () => verifyConsistency(2, 8, hx(CT_ROOTS[2]!), root8, [])],
    ['consistency path with an extra hash', () => verifyConsistency(2, 8, hx(CT_ROOTS[2]!), root8, [...CT_CONSISTENCY[2]![2].map(hx), root8])],
    ['consistency NaN size', () => verifyConsistency(Number.NaN, 8, hx(CT_ROOTS[2]!), root8, [])],
  ];
  for (const [what, run] of cases) it(what, () => assert.equal(run(), false));

  it('true edge cases: size 1, m = n, m = 0', () => {
    assert.equal(verifyInclusion(0, 1, CT_LEAVES[0]!, [], CT_LEAVES[0]!), true);
    assert.equal(verifyConsistency(5, 5, hx(CT_ROOTS[5]!), hx(CT_ROOTS[5]!), []), true);
    assert.equal(verifyConsistency(0, 8, EMPTY_ROOT, root8, []), true);
    assert.equal(verifyConsistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, []), true);
  });

  it('generation refuses what no proof exists for', () => {
    const src = new MemoryNodeSource(CT_LEAVES);
    assert.throws(() => inclusionPath(src, 8, 8), RangeError);
    assert.throws(() => consistencyPath(src, 5, 4), RangeError);
    assert.throws(() => subtreeHash(src, 2, 5), RangeError); // [2,5) is no subtree of the recursion
    assert.throws(() => src.node(3, 1), RangeError);
    assert.deepEqual(consistencyPath(src, 0, 8), []);
  });
});

describe('merkle: properties over every shape', () => {
  const MAX = 300;
  const leaves = leavesOf(MAX);
  const src = new MemoryNodeSource(leaves);
  const roots = Array.from({ length: MAX + 1 }, (_, n) => merkleRoot(leaves.slice(0, n)));

  it(`every inclusion proof up to size ${MAX} verifies, and only at its own index and size`, () => {
    for (let n = 1; n <= MAX; n++) {
      const g = guarded(src, n);
      for (let i = 0; i < n; i++) {
        const path = inclusionPath(g, i, n);
        assert.ok(verifyInclusion(i, n, leaves[i]!, path, roots[n]!), `inclusion ${i}/${n}`);
        if (n > 1) assert.ok(!verifyInclusion((i + 1) % n, n, leaves[i]!, path, roots[n]!), `wrong index ${i}/${n}`);
        if (n < MAX) assert.ok(!verifyInclusion(i, n + 1, leaves[i]!, path, roots[n + 1]!), `wrong size ${i}/${n}`);
      }
    }
  });

  it(`every consistency proof m <= n <= ${MAX} verifies`, () => {
    for (let n = 1; n <= MAX; n++) {
      const g = guarded(src, n);
      for (let m = 0; m <= n; m++) {
        const path = consistencyPath(g, m, n);
        assert.ok(verifyConsistency(m, n, roots[m]!, roots[n]!, path), `consistency ${m} -> ${n}`);
      }
    }
  });

  it('proofs read O(log n) nodes', () => {
    const n = MAX;
    for (const i of [0, 1, 127, 128, 255, 256, n - 1]) {
      const g = guarded(src, n);
      inclusionPath(g, i, n);
      assert.ok(g.reads <= 2 * Math.ceil(Math.log2(n)), `inclusion ${i}/${n} read ${g.reads} nodes`);
    }
    for (const m of [1, 3, 100, 128, 299]) {
      const g = guarded(src, n);
      consistencyPath(g, m, n);
      assert.ok(g.reads <= 3 * Math.ceil(Math.log2(n)), `consistency ${m} -> ${n} read ${g.reads} nodes`);
    }
  });

  it('a flipped bit anywhere (leaf, path, root) or a wrong size fails', () => {
    const flip = (b: Buffer, at: number): Buffer => { const c = Buffer.from(b); c[at % c.length]! ^= 1 << (at % 8); return c; };
    fc.assert(fc.property(fc.integer({ min: 2, max: MAX }), fc.nat(), fc.nat(), (n, iSeed, at) => {
      const i = iSeed % n;
      const path = inclusionPath(src, i, n);
      assert.ok(!verifyInclusion(i, n, flip(leaves[i]!, at), path, roots[n]!));
      assert.ok(!verifyInclusion(i, n, leaves[i]!, path, flip(roots[n]!, at)));
      const j = at % path.length;
      assert.ok(!verifyInclusion(i, n, leaves[i]!, path.map((p, k) => (k === j ? flip(p, at) : p)), roots[n]!));
      const m = 1 + (at % (n - 1));
      const cpath = consistencyPath(src, m, n);
      assert.ok(!verifyConsistency(m, n, flip(roots[m]!, at), roots[n]!, cpath));
      assert.ok(!verifyConsistency(m, n, roots[m]!, flip(roots[n]!, at), cpath));
      if (cpath.length > 0) assert.ok(!verifyConsistency(m, n, roots[m]!, roots[n]!, cpath.map((p, k) => (k === at % cpath.length ? flip(p, at) : p))));
      if (n < MAX) assert.ok(!verifyConsistency(m, n + 1, roots[m]!, roots[n + 1]!, cpath));
    }), { numRuns: 500 });
  });
});
