/**
 * Stage 1 for HTTP/2 streams: the header fields of an h2 request (RFC 9113 §8.3) read as the
 * HTTP/1.1 head that parseRequest checks, so an h2 stream meets exactly the normalization,
 * limits and header rules of an h1 request. `:method` and `:path` become the method and the
 * origin-form target, `:authority` becomes Host (so the CONNECT comparison is the h1 one:
 * a stream naming another host is REQUEST_INVALID), cookie fields are joined (§8.2.3).
 *
 * Refused here (REQUEST_INVALID): a missing, repeated or unknown pseudo-header, a `:scheme`
 * other than the tunnel's, `:authority` and Host that differ, connection-specific fields
 * (§8.2.2: connection, keep-alive, proxy-connection, transfer-encoding, upgrade; `te` other
 * than `trailers`), and CONNECT or extended CONNECT inside the tunnel. nghttp2 refuses most of
 * these itself before a stream reaches the gate (RST_STREAM PROTOCOL_ERROR, no receipt); these
 * checks hold whatever it lets through.
 */
import type { Arrival, RequestHead } from './parse-request.js';

/** Connection-specific fields an HTTP/2 request must not carry (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const PSEUDO: ReadonlySet<string> = new Set([':method', ':scheme', ':authority', ':path']);

/** The h1 view of an h2 request head, or the detail of its refusal. Pure; never throws. */
export function h1ViewOfH2(head: RequestHead, arrival: Arrival): RequestHead | string {
  const raw = head.rawHeaders;
  const pseudo = new Map<string, string>();
  const fields: string[] = [];
  const cookies: string[] = [];
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name.startsWith(':')) {
      if (!PSEUDO.has(name)) return `pseudo-header ${name.slice(0, 40)} is not accepted`;
      if (pseudo.has(name)) return `repeated ${name} pseudo-header`;
      pseudo.set(name, value);
      continue;
    }
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value.trim().toLowerCase() !== 'trailers')) {
      return `connection-specific header ${name} in an HTTP/2 request (RFC 9113 §8.2.2)`;
    }
    if (name === 'cookie') { cookies.push(value); continue; }
    if (name === 'host') {
      if (host !== undefined) return 'repeated Host header';
      host = value;
    }
    fields.push(raw[i]!, value);
  }
  const method = pseudo.get(':method');
  if (method === 'CONNECT') return 'CONNECT inside a tunnel';
  const path = pseudo.get(':path');
  if (method === undefined || path === undefined || path === '') return 'an HTTP/2 request needs :method and :path';
  if (pseudo.get(':scheme') !== arrival.scheme) return `:scheme names another scheme than the tunnel (${arrival.scheme})`;
  const authority = pseudo.get(':authority');
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase()) return 'the :authority and Host of an HTTP/2 request differ';
  if (authority !== undefined && host === undefined) fields.push('host', authority);
  if (authority === undefined && host === undefined) return 'an HTTP/2 request needs :authority';
  if (cookies.length > 0) fields.push('cookie', cookies.join('; '));
  return { method, url: path, rawHeaders: fields, httpVersion: '2.0' };
}

/** The fields of an h2 request that may go upstream, before the hop-by-hop filter: no pseudo-headers, cookies joined. */
export function h2UpstreamFields(raw: readonly string[]): string[] {
  const out: string[] = [];
  const cookies: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.startsWith(':')) continue;
    if (name.toLowerCase() === 'cookie') cookies.push(raw[i + 1]!);
    else out.push(name, raw[i + 1]!);
  }
  if (cookies.length > 0) out.push('cookie', cookies.join('; '));
  return out;
}
