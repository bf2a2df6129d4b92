/**
 * Path normalization (SPEC §4). The normalized path is what matching sees and what goes
 * upstream, so the gate and the upstream server cannot read one request two ways.
 */
import { RequestInvalidError } from './request-invalid-error.js';

const HEX = '0123456789ABCDEF';

function isUnreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * One path segment, normalized: percent-encoded unreserved characters decoded, every other
 * escape kept with uppercase hex. Encoded `/`, `\` and NUL, raw `\`, controls, spaces and
 * non-ASCII are refused. The result is a fixed point: decoded characters are unreserved and
 * kept escapes never decode to one.
 */
export function normalizeSegment(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(seg.charCodeAt(i + 1));
      const lo = hexValue(seg.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw new RequestInvalidError('path holds a malformed percent-encoding');
      const v = hi * 16 + lo;
      if (v === 0x2f || v === 0x5c) throw new RequestInvalidError('path holds an encoded "/" or "\\" (%2F, %5C)');
      if (v === 0) throw new RequestInvalidError('path holds an encoded NUL (%00)');
      out += isUnreserved(v) ? String.fromCharCode(v) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
      continue;
    }
    if (c === 0x5c) throw new RequestInvalidError('path holds a "\\"');
    if (c <= 0x20 || c >= 0x7f || c === 0x23 || c === 0x3f) {
      throw new RequestInvalidError('path holds a character that must be percent-encoded');
    }
    out += seg[i];
  }
  return out;
}

/**
 * A normalized segment that is `.` or `..` followed by path parameters (`..;x`, `.;`, also
 * `%2e%2e;` once decoded, and `..%3B`): Tomcat, Jetty and Spring strip the parameters and
 * read a dot segment, so the origin would resolve a path the gate never matched (SPEC §4).
 */
function isDotWithParameters(seg: string): boolean {
  const m = /;|%3B/.exec(seg);
  if (!m) return false;
  const before = seg.slice(0, m.index);
  return before === '.' || before === '..';
}

/**
 * Normalizes a request path (no query): `""` becomes `/`; segments are normalized by
 * {@link normalizeSegment}; `.` and `..` segments (also when spelled `%2E`) are removed as
 * RFC 3986 §5.2.4 does, a trailing one leaving a trailing `/`. Empty segments are kept.
 * Idempotent: the output holds no dot segments and only normalized segments.
 *
 * @throws RequestInvalidError when the path does not start with `/`, climbs above the root,
 * holds a dot segment with path parameters, or holds something {@link normalizeSegment} refuses.
 */
export function normalizePath(raw: string): string {
  if (raw === '') return '/';
  if (raw.charCodeAt(0) !== 0x2f) throw new RequestInvalidError('path must start with "/"');
  const input = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const seg = normalizeSegment(input[i] as string);
    if (isDotWithParameters(seg)) throw new RequestInvalidError('path holds a dot segment with path parameters ("..;", ".;"), which servers that strip parameters read as a dot segment');
    const last = i === input.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') {
        if (out.length === 0) throw new RequestInvalidError('path climbs above the root');
        out.pop();
      }
      if (last) out.push('');
      continue;
    }
    out.push(seg);
  }
  return `/${out.join('/')}`;
}
