import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompactRange } from '../../../../receipts/tlog/compact-range.js';
import { EMPTY_ROOT, MemoryNodeSource, leafHash, merkleRoot, nodeHash, type NodeSource } from '../../../../receipts/tlog/merkle.js';

const leavesOf = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));

/** Every perfect node of a tree of `size` leaves, as "level/index=hex". */
function perfectNodes(leaves: readonly Buffer[]): Set<string> {
  const out = new Set<string>();
  for (let level = 0; 2 ** level <= leaves.length; level++) {
    for (let index = 0; (index + 1) * 2 ** level <= leaves.length; index++) {
      const hash = merkleRoot(leaves.slice(index * 2 ** level, (index + 1) * 2 ** level));
      out.add(`${level}/${index}=${hash.toString('hex')}`);
    }
  }
  return out;
}

describe('CompactRange', () => {
  const MAX = 300;
  const leaves = leavesOf(MAX);

  it('an empty range has size 0 and the empty root', () => {
    const r = new CompactRange();
    assert.equal(r.size, 0);
    assert.ok(r.root().equals(EMPTY_ROOT));
    assert.deepEqual(r.toJSON(), { size: 0, hashes: [] });
  });

  it(`root equals merkleRoot after every append up to ${MAX}; onNode emits exactly the perfect nodes, once each`, () => {
    const r = new CompactRange();
    const emitted: string[] = [];
    for (let n = 1; n <= MAX; n++) {
      const before = emitted.length;
      r.append(leaves[n - 1]!, (level, index, hash) => emitted.push(`${level}/${index}=${hash.toString('hex')}`));
      assert.equal(r.size, n);
      assert.ok(r.root().equals(merkleRoot(leaves.slice(0, n))), `root of size ${n}`);
      assert.equal(emitted[before], `0/${n - 1}=${leaves[n - 1]!.toString('hex')}`, 'the leaf comes first');
      assert.equal(r.hashes.length, n.toString(2).replaceAll('0', '').length, 'one hash per set bit of size');
      if (n % 37 === 0 || n === MAX) {
        assert.deepEqual(new Set(emitted), perfectNodes(leaves.slice(0, n)));
        assert.equal(new Set(emitted).size, emitted.length, 'no node is emitted twice');
      }
    }
  });

  it('levels rise by one and indexes halve within one append', () => {
    const r = new CompactRange();
    for (let i = 0; i < 7; i++) r.append(leaves[i]!);
    const seen: Array<[number, number]> = [];
    r.append(leaves[7]!, (level, index) => seen.push([level, index]));
    assert.deepEqual(seen, [[0, 7], [1, 3], [2, 1], [3, 0]]);
    assert.ok(r.hashes[0]!.equals(merkleRoot(leaves.slice(0, 8))));
  });

  it('fromNodeSource and fromJSON (through structured clone) rebuild the same state', () => {
    const src = new MemoryNodeSource(leaves);
    const r = new CompactRange();
    for (let n = 0; n <= MAX; n++) {
      const rebuilt = CompactRange.fromNodeSource(src, n);
      assert.deepEqual(rebuilt.toJSON(), r.toJSON(), `fromNodeSource size ${n}`);
      const revived = CompactRange.fromJSON(structuredClone(JSON.parse(JSON.stringify(r))));
      assert.ok(revived.root().equals(r.root()));
      assert.equal(revived.size, n);
      if (n < MAX) r.append(leaves[n]!);
    }
  });

  it('fromNodeSource reads one node per set bit of size, all inside the tree', () => {
    const src = new MemoryNodeSource(leaves);
    const reads: Array<[number, number]> = [];
    const g: NodeSource = { node: (level, index) => { reads.push([level, index]); return src.node(level, index); } };
    CompactRange.fromNodeSource(g, 13);
    assert.deepEqual(reads, [[3, 0], [2, 2], [0, 12]]);
  });

  it('clone is independent of the original', () => {
    const a = new CompactRange();
    a.append(leaves[0]!);
    const b = a.clone();
    b.append(leaves[1]!);
    assert.equal(a.size, 1);
    assert.ok(a.root().equals(leaves[0]!));
    assert.ok(b.root().equals(nodeHash(leaves[0]!, leaves[1]!)));
  });

  it('a throwing onNode leaves the range unchanged', () => {
    const r = new CompactRange();
    for (let i = 0; i < 3; i++) r.append(leaves[i]!);
    const before = r.toJSON();
    assert.throws(() => r.append(leaves[3]!, (level) => { if (level === 2) throw new Error('disk full'); }), /disk full/);
    assert.deepEqual(r.toJSON(), before);
    r.append(leaves[3]!);
    assert.ok(r.root().equals(merkleRoot(leaves.slice(0, 4))));
  });

  it('appends random leaves: root always matches the reference', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 70 }), (entries) => {
      const r = new CompactRange();
      const hs = entries.map((e) => leafHash(e));
      hs.forEach((h) => r.append(h));
      assert.ok(r.root().equals(merkleRoot(hs)));
    }), { numRuns: 100 });
  });

  it('rejects bad input', () => {
    const good = (() => { const r = new CompactRange(); r.append(leaves[0]!); r.append(leaves[1]!); r.append(leaves[2]!); return r.toJSON(); })();
    const bad: unknown[] = [
      null, [], { size: -1, hashes: [] }, { size: 1.5, hashes: [] }, { size: 3, hashes: good.hashes.slice(0, 1) },
      { size: 3, hashes: [good.hashes[0], 'AAAA'] }, { size: 3, hashes: [good.hashes[0], good.hashes[1]!.replace(/=$/, '')] },
      { size: 1, hashes: [42] }, { size: '3', hashes: good.hashes },
    ];
    for (const b of bad) assert.throws(() => CompactRange.fromJSON(b), TypeError, JSON.stringify(b));
    assert.throws(() => new CompactRange().append(Buffer.alloc(31)), TypeError);
    assert.throws(() => CompactRange.fromNodeSource(new MemoryNodeSource([]), -1), RangeError);
  });
});
