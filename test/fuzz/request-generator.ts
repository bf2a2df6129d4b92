/**
 * A seeded generator of hostile HTTP/1.1 inputs for the listener fuzz. Input `i` of seed `s`
 * is a pure function of (s, i), so any failing input is reproduced from two numbers.
 *
 * Every target is a route that can never forward without a bug: `deny.it` (authorize: deny),
 * `permit.it` (authorize: permit; the permits generated are never validly signed) or a host no
 * route names. Well-formed inputs have complete framing (a keep-alive client may wait for
 * their answer); mutated inputs are any bytes at all.
 */

/** mulberry32: small, fast, good enough to spread inputs; not for anything secret. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzInput {
  bytes: Buffer;
  /** Complete framing, no CONNECT/Upgrade: an answer is owed on a kept-alive connection. */
  wellFormed: boolean;
}

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const b64 = (r: R, n: number) => Array.from({ length: n }, () => pick(r, [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'])).join('');

const METHODS = ['GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'get', 'PROPFIND', 'X'.repeat(40)];
const WEIRD_METHODS = ['CONNECT', 'G\u0000T', 'GE T', '', 'POST\t', '\u00ff\u00fe', 'PRI'];
const GOOD_PATHS = ['/', '/x', '/pay', '/v1/charges', '/a/./b/../c', '/%7Euser', '/q?x=1&y=2'];
const PATHS = ['/', '/x', '/pay', '/a/b/c?q=1', '/%2e%2e/%2e%2e/etc', '/a%2Fb', '/a%5cb', '/a%00', '/../../x', '/a/./b/../c', '/%zz',
  '/a#frag', `/${'p/'.repeat(300)}`, '/\u00e9', '/a?b=%00&c=\r', '/;x=1', '//double'];

function target(r: R, port: number): string {
  const host = pick(r, ['deny.it', 'permit.it', 'permit.it', 'deny.it', 'other.it', '127.0.0.1', 'DENY.IT', 'deny.it.', '[::1]', '2130706433']);
  const p = r() < 0.85 ? port : pick(r, [80, 443, 0, 65536]);
  const path = r() < 0.7 ? pick(r, GOOD_PATHS) : pick(r, PATHS);
  switch (int(r, 0, 15)) {
    case 0: return path; // origin-form
    case 1: return `https://${host}:${p}${path}`;
    case 2: return `http://${host}${path}`;
    case 3: return `http://user:pw@${host}:${p}${path}`;
    case 4: return pick(r, ['*', `${host}:${p}`, 'ftp://deny.it/', 'http://', 'http://:80/', 'http://deny.it:99999/']);
    default: return `http://${host}:${p}${path}`;
  }
}

function permitJunk(r: R): string {
  return pick(r, [
    `${b64(r, 20)}.${b64(r, 60)}.${b64(r, 86)}`, 'eyJhbGciOiJub25lIn0.eyJzdXJmYWNlIjoicGF5In0.', b64(r, int(r, 0, 40)),
    `eyJhbGciOiJFZERTQSIsInR5cCI6InBlcm1pdCtqd3QifQ.${b64(r, 200)}.${b64(r, 86)}`, '..', 'a.b.c.d',
  ]);
}

/** One well-formed request (complete framing), possibly with identity-header conflicts. */
function wellFormed(r: R, port: number): { text: string; head: boolean } {
  const method = pick(r, METHODS);
  const t = target(r, port);
  const hostMatch = /^https?:\/\/(?:[^@/]*@)?([^/?#]*)/.exec(t)?.[1] ?? `deny.it:${port}`;
  const h: string[] = [];
  const hostMode = int(r, 0, 9);
  if (hostMode < 7) h.push(`Host: ${hostMatch}`);
  else if (hostMode === 7) h.push(`Host: ${hostMatch}`, `Host: ${hostMatch}`);
  else if (hostMode === 8) h.push(`Host: other.it:${port}`);
  if (r() < 0.6) h.push(`Egress-Permit: ${permitJunk(r)}`);
  if (r() < 0.05) h.push(`egress-permit: ${permitJunk(r)}`);
  if (r() < 0.2) h.push(`Authorization: Bearer ${b64(r, 16)}`);
  if (r() < 0.1) h.push(`Proxy-Authorization: Bearer ${permitJunk(r)}`);
  if (r() < 0.1) h.push(`Idempotency-Key: ${b64(r, 8)}`);
  if (r() < 0.05) h.push('Expect: 100-continue');
  if (r() < 0.1) h.push(`Connection: ${pick(r, ['keep-alive', 'close, x-hop', 'X-Hop', 'TE'])}`);
  const nExtra = r() < 0.05 ? int(r, 150, 230) : int(r, 0, 4);
  for (let i = 0; i < nExtra; i++) h.push(`X-F${i}: ${b64(r, int(r, 0, 12))}`);
  if (r() < 0.01) h.push(`X-Huge: ${'h'.repeat(int(r, 100_000, 300_000))}`);
  let body = '';
  const bodyMode = int(r, 0, 9);
  if (bodyMode === 0 || bodyMode === 1) { body = b64(r, int(r, 0, 300)); h.push(`Content-Length: ${body.length}`); }
  else if (bodyMode === 2) { const c = b64(r, int(r, 1, 50)); body = `${c.length.toString(16)}\r\n${c}\r\n0\r\n\r\n`; h.push('Transfer-Encoding: chunked'); }
  else if (bodyMode === 3 && r() < 0.3) { body = 'abc'; h.push('Content-Length: 3', 'Content-Length: 3'); }
  else if (bodyMode === 4 && r() < 0.5) { body = '0\r\n\r\n'; h.push('Content-Length: 5', 'Transfer-Encoding: chunked'); }
  else if (bodyMode === 5 && r() < 0.5) { body = 'ab'; h.push('Content-Length: 2', 'Content-Length: 3'); }
  for (let i = h.length - 1; i > 0; i--) { if (r() < 0.2) { const j = int(r, 0, i); [h[i], h[j]] = [h[j]!, h[i]!]; } }
  return { text: `${method} ${t} HTTP/1.1\r\n${h.map((x) => `${x}\r\n`).join('')}\r\n${body}`, head: method === 'HEAD' };
}

const INJECT = ['\r', '\n', '\r\n', '\0', '\r\n\r\n', ' ', '\t', ':', '\u0080', '\xff', 'Host: deny.it\r\n', 'Transfer-Encoding: chunked\r\n',
  'Content-Length: 99999\r\n', '\r\nGET http://permit.it/ HTTP/1.1\r\n\r\n', '0\r\n\r\n', 'ffffffffffffffff\r\n'];

function mutate(r: R, input: Buffer): Buffer {
  let b = input;
  const n = int(r, 1, 4);
  for (let k = 0; k < n; k++) {
    const at = int(r, 0, b.length);
    switch (int(r, 0, 7)) {
      case 0: if (b.length) { b = Buffer.from(b); b[Math.min(at, b.length - 1)] = int(r, 0, 255); } break;
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(r, INJECT), 'latin1'), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: int(r, 1, 16) }, () => int(r, 0, 255))), b.subarray(at)]); break;
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + int(r, 1, 20)))]); break;
      case 4: b = b.subarray(0, at); break;
      case 5: b = Buffer.from(b.toString('latin1').replace(/\r\n/g, () => (r() < 0.3 ? '\n' : '\r\n')), 'latin1'); break;
      case 6: { const lines = b.toString('latin1').split('\r\n'); const i = int(r, 0, lines.length - 1); lines.splice(i, 0, lines[i] ?? ''); b = Buffer.from(lines.join('\r\n'), 'latin1'); break; }
      default: b = Buffer.concat([b, Buffer.from(`${pick(r, WEIRD_METHODS)} ${target(r, 0)} HTTP/1.${int(r, 0, 9)}\r\n\r\n`, 'latin1')]);
    }
  }
  return b;
}

/** Input number `i` of `seed`, aimed at routes on `port`. */
export function fuzzInput(seed: number, i: number, port: number): FuzzInput {
  const r = rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
  const base = wellFormed(r, port);
  // A HEAD answer has no body to wait for: sent on a fresh, half-closed connection instead.
  if (r() < 0.45) return { bytes: Buffer.from(base.text, 'latin1'), wellFormed: !base.head };
  return { bytes: mutate(r, Buffer.from(base.text, 'latin1')), wellFormed: false };
}
