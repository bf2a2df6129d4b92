/**
 * Recognizes an IP address in every spelling a URL host can take (SPEC §4: `2130706433`,
 * `0x7f.1`, `0177.0.0.1`, `127.1`, `[::ffff:127.0.0.1]`), so a destination cannot escape
 * `block_private` or an IP route by being spelled differently.
 */
import { isIP } from 'node:net';
import { canonicalIp } from './ip-literal.js';

/**
 * True when a URL parser would read `host` as IPv4 (WHATWG "ends in a number": the last
 * label, ignoring one trailing dot, is all digits or `0x` plus hex digits). Such a host is
 * either an IPv4 address or invalid; it is never a DNS name.
 */
export function isIpv4Shaped(host: string): boolean {
  const labels = host.toLowerCase().split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const last = labels[labels.length - 1] ?? '';
  return /^\d+$/.test(last) || /^0x[0-9a-f]*$/.test(last);
}

/**
 * The canonical IP address `host` spells, or undefined when it is not an IP literal (a DNS
 * name, or malformed). IPv4 comes back as a dotted quad; IPv6 (with or without brackets) as
 * `canonicalIp` writes it — the same form route maps use, so the two compare equal.
 */
export function parseIpLiteral(host: string): string | undefined {
  const h = host.toLowerCase();
  if (h.startsWith('[') || h.includes(':')) return canonicalIp(h);
  if (!isIpv4Shaped(h) || !/^[0-9a-fx.]+$/.test(h)) return undefined;
  // Only digits, hex letters, "x" and dots reach the URL parser, so it can read nothing but
  // the IPv4 host grammar here; it is the reference for decimal, octal and hex parts.
  try {
    const parsed = new URL(`http://${h}/`).hostname;
    return isIP(parsed) === 4 ? parsed : undefined;
  } catch {
    return undefined;
  }
}
