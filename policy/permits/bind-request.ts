/**
 * The request binding a permit carries in its `req` claim (SPEC §5). One implementation,
 * used by the SDK and `permit issue` to mint it and by the checker to compare it, so that
 * both sides hash and normalize the same way.
 */
import { createHash } from 'node:crypto';
import { bindingUrl, parseConnectAuthority } from '../normalize-request.js';

/** The `req` claim of a permit. */
export interface RequestBinding {
  htm: string;
  htu: string;
  qh?: string;
  bdh?: string;
}

/** base64url (no padding) SHA-256 of bytes, or of a string's UTF-8 bytes. */
export function sha256Base64url(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('base64url');
}

/**
 * The query string of a URL as an HTTP client sends it (WHATWG serialization, without `?`),
 * or null when the URL has no `?` before its fragment.
 */
export function queryOf(url: string): string | null {
  const hash = url.indexOf('#');
  const beforeFragment = hash === -1 ? url : url.slice(0, hash);
  if (!beforeFragment.includes('?')) return null;
  return new URL(url).search.replace(/^\?/, '');
}

/**
 * The binding of one request: `htm` the uppercased method, `htu` the gate's binding URL
 * (no query, default port omitted, normalized path), `qh` when the URL has a query (SHA-256
 * of the query string, "" hashed for a bare `?`), `bdh` when a body is given. For CONNECT
 * (tunnel routes) `url` is `host:port`, bound in the form the gate compares (SPEC §5): host
 * lowercased, an IP literal canonical (IPv6 in brackets), e.g. `127.0.0.1:8444`.
 * Throws TypeError for a URL that cannot be parsed.
 */
export function bindRequest(req: { method: string; url: string; body?: Uint8Array | string }): RequestBinding {
  const htm = req.method.toUpperCase();
  if (htm === 'CONNECT') {
    // A tunnel route binds `host:port` (SPEC §5); there is no path, query or body to hash.
    return { htm, htu: connectBinding(req.url) };
  }
  if (!URL.canParse(req.url)) throw new TypeError(`not an absolute URL: ${req.url}`);
  const out: RequestBinding = { htm, htu: bindingUrl(req.url) };
  const query = queryOf(req.url);
  if (query !== null) out.qh = sha256Base64url(query);
  if (req.body !== undefined) out.bdh = sha256Base64url(req.body);
  return out;
}

/** `host:port` of a CONNECT as the gate writes it (decision-chain.ts): throws TypeError when it is not one. */
export function connectBinding(authority: string): string {
  let a: ReturnType<typeof parseConnectAuthority>;
  try {
    a = parseConnectAuthority(authority);
  } catch {
    throw new TypeError(`not a host:port: ${authority}`);
  }
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}
