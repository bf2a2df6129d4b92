/**
 * Which destination addresses `network.block_private` refuses (SPEC §3): loopback, RFC 1918,
 * link-local (incl. 169.254.169.254), CGNAT, ULA, multicast, unspecified and reserved — and
 * IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by the
 * address they embed, so no spelling slips past. Built once; pure.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

const V4 = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const;
/**
 * `::/96` holds `::`, `::1` and the deprecated IPv4-compatible form (which does not route to the
 * IPv4 address it spells); `::ffff:0:0:0/96` is the IPv4-translated form. Neither has a
 * legitimate public use, so both are refused whole rather than judged by their embedded address.
 */
const V6 = [
  ['::', 96], ['::ffff:0:0:0', 96], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8], ['100::', 64], ['2001:db8::', 32],
] as const;

const PRIVATE = new BlockList();
for (const [a, p] of V4) PRIVATE.addSubnet(a, p, 'ipv4');
for (const [a, p] of V6) PRIVATE.addSubnet(a, p, 'ipv6');

/** Expands an IPv6 address to its 8 16-bit groups. */
function groups6(ip: string): number[] {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = `${s.slice(0, v4.index)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

function v4FromBits(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** The IPv4 address an IPv6 address embeds (mapped, compatible, NAT64, 6to4, Teredo), if any. */
export function embeddedIPv4(ip: string): string | undefined {
  const g = groups6(ip);
  if (g.length !== 8) return undefined;
  const zero = (a: number, b: number) => g.slice(a, b).every((x) => x === 0);
  if (zero(0, 5) && (g[5] === 0xffff || g[5] === 0) && !(g[5] === 0 && g[6] === 0)) return v4FromBits(g[6]!, g[7]!); // ::ffff:a.b.c.d, ::a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return v4FromBits(g[6]!, g[7]!); // NAT64 64:ff9b::/96
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return v4FromBits(g[6]!, g[7]!); // local-use NAT64 64:ff9b:1::/48
  if (g[0] === 0x2002) return v4FromBits(g[1]!, g[2]!); // 6to4
  if (g[0] === 0x2001 && g[1] === 0) return v4FromBits(g[6]! ^ 0xffff, g[7]! ^ 0xffff); // Teredo client
  return undefined;
}

/** True when the address is one block_private refuses. `allow` holds explicit exceptions. */
export function isPrivateAddress(ip: string, allow?: BlockList): boolean {
  if (isIPv4(ip)) {
    if (allow?.check(ip, 'ipv4')) return false;
    return PRIVATE.check(ip, 'ipv4');
  }
  // A zone id ("fe80::1%eth0") only means something for link-local addresses: refuse it whole.
  if (isIPv6(ip) && !ip.includes('%')) {
    if (allow?.check(ip, 'ipv6')) return false;
    if (PRIVATE.check(ip, 'ipv6')) return true;
    const inner = embeddedIPv4(ip);
    return inner !== undefined && isPrivateAddress(inner, allow);
  }
  return true; // not an address at all: refuse rather than guess
}

/** Builds the allow list from `network.allow_cidrs` ("10.1.0.0/16", "fd00::/8", or a single address). */
export function allowList(cidrs: readonly string[]): BlockList {
  const b = new BlockList();
  for (const c of cidrs) {
    const [addr, len] = c.split('/') as [string, string | undefined];
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (len === undefined) b.addAddress(addr, type);
    else b.addSubnet(addr, Number(len), type);
  }
  return b;
}
