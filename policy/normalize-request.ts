/**
 * Request normalization (SPEC §4): a request target plus its Host header becomes the one
 * NormalizedRequest that matching, permit binding (`req.htu`) and forwarding all read.
 * Bad input throws {@link RequestInvalidError}; nothing else is thrown for any input.
 *
 * Two target forms are accepted:
 * - absolute-form (`http://host:port/path?q`), a plain proxy request; the scheme comes from
 *   the URI. When `authority` is given too (an absolute URI inside a tunnel) the URI must
 *   name that scheme, host and port.
 * - origin-form (`/path?q`), only inside a CONNECT tunnel: `scheme` and `authority` (the
 *   CONNECT host:port) are required, and the Host header must name the same host and port.
 */
import type { NormalizedRequest } from './types.js';
import { RequestInvalidError } from './request-invalid-error.js';
import { normalizePath } from './normalize-path.js';
import { isIpv4Shaped, parseIpLiteral } from './parse-ip-literal.js';

export { RequestInvalidError } from './request-invalid-error.js';
export { normalizePath } from './normalize-path.js';

export type Scheme = 'http' | 'https';

export interface RequestTarget {
  method: string;
  /** The request-target as sent on the request line. */
  target: string;
  /** The scheme of the connection (https inside an intercepted tunnel). */
  scheme?: Scheme;
  /** The CONNECT host:port, for requests inside a tunnel. */
  authority?: string;
  /** The Host header; an array when the request carried several (refused unless one). */
  hostHeader?: string | string[];
}

/** The default port of each scheme; a URL omits it. */
export const DEFAULT_PORT: Readonly<Record<Scheme, number>> = Object.freeze({ http: 80, https: 443 });

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/s;
const AUTHORITY = /^(\[[^\]]*\]|[^:[\]]*)(?::([0-9]*))?$/;
const DNS_NAME = /^[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*$/;

interface Authority {
  host: string;
  port: number;
  hostIsIp: boolean;
}

function invalid(message: string): never {
  throw new RequestInvalidError(message);
}

/**
 * A host as matching and the network layer see it: IP literals (any spelling) canonical,
 * DNS names lowercased without a trailing dot. A host that URL parsers would read as IPv4
 * but is not a valid address is refused rather than treated as a name.
 */
export function normalizeHost(text: string): { host: string; hostIsIp: boolean } {
  const ip = parseIpLiteral(text);
  if (ip !== undefined) return { host: ip, hostIsIp: true };
  if (text.startsWith('[') || text.includes(':')) invalid('host is not a valid IPv6 address');
  let host = text.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (isIpv4Shaped(host)) invalid('host is not a valid IPv4 address');
  if (host.length > 253 || !DNS_NAME.test(host)) invalid('host is not a valid host name');
  return { host, hostIsIp: false };
}

/** Parses `host[:port]`; the port defaults to the scheme's. Userinfo is refused. */
function parseAuthority(text: string, scheme: Scheme, what: string): Authority {
  if (text.includes('@')) invalid(`${what} holds userinfo ("user@"); credentials in a URI are not accepted`);
  const m = AUTHORITY.exec(text);
  if (!m || m[1] === '') invalid(`${what} does not name a host`);
  const portText = m[2];
  let port = DEFAULT_PORT[scheme];
  if (portText !== undefined && portText !== '') {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
    if (port < 1 || port > 65535) invalid(`${what} names an invalid port`);
  }
  return { ...normalizeHost(m[1] as string), port };
}

/**
 * A CONNECT request-target (`host:port`, IPv6 in brackets, the port required), normalized as
 * every other host is, so the tunnel's authority and the requests inside it compare equal.
 * Throws RequestInvalidError.
 */
export function parseConnectAuthority(text: string): Authority {
  if (!/:\d+$/.test(text)) invalid('CONNECT needs host:port');
  return parseAuthority(text, 'https', 'CONNECT target');
}

function checkQuery(query: string | undefined): string | null {
  if (query === undefined) return null;
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) invalid('query holds a character that must be percent-encoded');
  }
  return query;
}

function sameAuthority(a: Authority, b: Authority): boolean {
  return a.host === b.host && a.port === b.port;
}

function formatUrl(scheme: Scheme, a: Authority, path: string): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return a.port === DEFAULT_PORT[scheme] ? `${scheme}://${host}${path}` : `${scheme}://${host}:${a.port}${path}`;
}

function toScheme(text: string): Scheme {
  const s = text.toLowerCase();
  if (s !== 'http' && s !== 'https') invalid('only http and https URIs are accepted');
  return s;
}

interface ParsedTarget {
  scheme: Scheme;
  authority: Authority;
  path: string;
  query: string | null;
}

function parseAbsolute(target: string, allowFragment: boolean): ParsedTarget {
  const m = ABSOLUTE.exec(target);
  if (!m) invalid('request target is not an absolute http(s) URI');
  const scheme = toScheme(m[1] as string);
  if (m[5] !== undefined && !allowFragment) invalid('request target holds a fragment ("#")');
  const authority = parseAuthority(m[2] as string, scheme, 'URI authority');
  return { scheme, authority, path: normalizePath(m[3] as string), query: checkQuery(m[4]) };
}

function singleHostHeader(h: string | string[] | undefined): string | undefined {
  if (!Array.isArray(h)) return h;
  if (h.length > 1) invalid('repeated Host header');
  return h[0];
}

/**
 * Normalizes one request (see the module comment for the two target forms).
 *
 * @throws RequestInvalidError for every input that is not a well-formed, unambiguous request.
 */
export function normalizeRequest(input: RequestTarget): NormalizedRequest {
  if (!TOKEN.test(input.method)) invalid('method is not a valid token');
  const hostHeader = singleHostHeader(input.hostHeader);
  let parsed: ParsedTarget;
  if (input.target.startsWith('/')) {
    if (input.scheme === undefined || input.authority === undefined) {
      invalid('origin-form request outside a tunnel; send the absolute URI');
    }
    const authority = parseAuthority(input.authority, input.scheme, 'CONNECT authority');
    if (hostHeader === undefined) invalid('missing Host header');
    if (!sameAuthority(parseAuthority(hostHeader, input.scheme, 'Host header'), authority)) {
      invalid('Host header names another host or port than the CONNECT');
    }
    const q = input.target.indexOf('?');
    const rawPath = q < 0 ? input.target : input.target.slice(0, q);
    if (input.target.includes('#')) invalid('request target holds a fragment ("#")');
    parsed = { scheme: input.scheme, authority, path: normalizePath(rawPath), query: checkQuery(q < 0 ? undefined : input.target.slice(q + 1)) };
  } else {
    parsed = parseAbsolute(input.target, false);
    if (hostHeader !== undefined && !sameAuthority(parseAuthority(hostHeader, parsed.scheme, 'Host header'), parsed.authority)) {
      invalid('Host header names another host or port than the request URI');
    }
    if (input.authority !== undefined) {
      const tunnel = parseAuthority(input.authority, input.scheme ?? parsed.scheme, 'CONNECT authority');
      if (parsed.scheme !== (input.scheme ?? parsed.scheme) || !sameAuthority(tunnel, parsed.authority)) {
        invalid('request URI names another scheme, host or port than the CONNECT');
      }
    }
  }
  const { scheme, authority, path, query } = parsed;
  return {
    method: input.method,
    scheme,
    host: authority.host,
    port: authority.port,
    path,
    query,
    url: formatUrl(scheme, authority, path),
    hostIsIp: authority.hostIsIp,
  };
}

/**
 * The binding URL (`req.htu`) of an absolute http(s) URL, computed exactly as
 * {@link normalizeRequest} computes `url`: scheme and host lowercased, IP literals
 * canonical (IPv6 in brackets), default port omitted, path normalized, query and fragment
 * dropped. An authority minting a permit uses this so its `htu` is byte-identical.
 *
 * @throws RequestInvalidError when the gate would refuse a request to this URL.
 */
export function bindingUrl(urlString: string): string {
  const { scheme, authority, path } = parseAbsolute(urlString, true);
  return formatUrl(scheme, authority, path);
}
