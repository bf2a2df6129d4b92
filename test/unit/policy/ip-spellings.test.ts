/**
 * Property: every spelling of an IPv4 address a URL host can take — one 32-bit number in
 * decimal, hex or octal, dotted parts in mixed radixes, the short a.b.c / a.b forms, and the
 * IPv4-mapped IPv6 forms — normalizes to the same canonical host, and block_private judges
 * every spelling exactly as it judges the dotted quad.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeHost } from '../../../policy/normalize-request.js';
import { isPrivateAddress } from '../../../policy/private-address.js';

const radix = (n: number, r: 'd' | 'x' | 'o') => (r === 'd' ? String(n) : r === 'x' ? `0x${n.toString(16)}` : `0${n.toString(8)}`);

function spellings(ip: number, rs: ('d' | 'x' | 'o')[]): string[] {
  const o = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255] as const;
  const hex = (n: number) => n.toString(16);
  return [
    radix(ip, rs[0]!),
    o.map((x, i) => radix(x, rs[i % rs.length]!)).join('.'),
    `${radix(o[0], rs[1]!)}.${radix(o[1], rs[2]!)}.${radix((o[2] << 8) | o[3], rs[3]!)}`,
    `${radix(o[0], rs[2]!)}.${radix((o[1] << 16) | (o[2] << 8) | o[3], rs[0]!)}`,
    `${o.join('.')}.`,
    `[::ffff:${o.join('.')}]`,
    `[::ffff:${hex((o[0] << 8) | o[1])}:${hex((o[2] << 8) | o[3])}]`,
    `[0:0:0:0:0:FFFF:${hex((o[0] << 8) | o[1]).toUpperCase()}:${hex((o[2] << 8) | o[3])}]`,
  ];
}

describe('IPv4 spellings', () => {
  it('all spellings normalize to the dotted quad and are judged alike by block_private', () => {
    const addr = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.constantFrom(0x7f000001, 0xa9fea9fe, 0x0a000001, 0xc0a80001, 0xac100001, 0x64400001, 0, 0xe0000001, 0x08080808),
    );
    const r = fc.constantFrom<'d' | 'x' | 'o'>('d', 'x', 'o');
    fc.assert(fc.property(addr, fc.tuple(r, r, r, r), (ip, rs) => {
      const dotted = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
      const priv = isPrivateAddress(dotted);
      for (const s of spellings(ip, rs)) {
        const n = normalizeHost(s);
        assert.equal(n.hostIsIp, true, s);
        const host = n.host;
        assert.equal(isPrivateAddress(host), priv, `${s} → ${host} (dotted ${dotted})`);
        if (!s.startsWith('[')) assert.equal(host, dotted, s);
      }
    }), { numRuns: 2000 });
  });
});
