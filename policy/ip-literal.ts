/**
 * The one canonical spelling of an IP address, shared by route maps and request
 * normalization so that a route naming an address and a request to it compare equal.
 */
import { isIP } from 'node:net';

/**
 * Canonical form of a strictly written IP literal: IPv4 as a dotted quad, IPv6 lowercased
 * and compressed per RFC 5952 as the WHATWG URL serializer writes it (IPv4-mapped addresses
 * in hex: `::ffff:7f00:1`), without brackets. Returns undefined when `text` is not an IP
 * literal (`[…]` brackets around IPv6 are accepted; zone ids are not). Loose IPv4 spellings (`0x7f.1`,
 * `2130706433`) are not literals here; request normalization parses those itself.
 */
export function canonicalIp(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v = isIP(bare);
  if (v === 4 && bare === text) return bare.split('.').map((o) => String(Number(o))).join('.');
  if (v === 6 && !bare.includes('%')) {
    // The URL parser is the reference serializer; a valid IPv6 address always parses.
    const host = new URL(`http://[${bare}]/`).hostname;
    return host.slice(1, -1);
  }
  return undefined;
}
