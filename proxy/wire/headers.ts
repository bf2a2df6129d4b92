/**
 * Which headers cross the gate, each way (RFC 9110 §7.6.1): hop-by-hop headers, the ones a
 * `Connection` header names, the proxy's own (`Proxy-Authorization`, the permit header) and,
 * on answers, any `egress-*` an origin sent — so an origin can never forge the gate's verdict.
 * Used by the forwarder and by WebSocket upgrades alike.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { NormalizedRequest } from '../../policy/types.js';

/** Hop-by-hop headers and the proxy's own, never forwarded either way. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host',
  // Expect is met by the gate itself (Node answers 100-continue; any other expectation is
  // decided like a request): undici cannot send it, and the body is sent whole anyway.
  'expect',
]);

/** The Host header sent upstream for `r` (default port omitted). */
export function hostHeader(r: NormalizedRequest): string {
  const h = r.host.includes(':') ? `[${r.host}]` : r.host;
  const def = r.scheme === 'https' ? 443 : 80;
  return r.port === def ? h : `${h}:${r.port}`;
}

/** Lowercased names a `Connection` header lists (they are hop-by-hop for this message). */
function connectionTokens(values: readonly string[]): Set<string> {
  const named = new Set<string>();
  for (const v of values) for (const t of v.split(',')) named.add(t.trim().toLowerCase());
  return named;
}

/**
 * The request headers that go upstream, as a flat [name, value, …] list: `raw` without
 * hop-by-hop headers, the names in `drop` (lowercase: the permit header and
 * Proxy-Authorization) and the names in `set`, then `set` itself (brokered credentials).
 */
export function upstreamHeaders(raw: readonly string[], drop: ReadonlySet<string>, set?: Record<string, string>): string[] {
  const conn: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'connection') conn.push(raw[i + 1]!);
  const named = connectionTokens(conn);
  const replaced = new Set(Object.keys(set ?? {}).map((k) => k.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || drop.has(name) || replaced.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  for (const [k, v] of Object.entries(set ?? {})) out.push(k, v);
  return out;
}

/** An origin's answer headers as the client gets them: without hop-by-hop headers and `egress-*`. */
export function answerHeaders(up: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const conn = up.connection;
  const named = connectionTokens(typeof conn === 'string' ? [conn] : Array.isArray(conn) ? conn : []);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(up)) {
    const name = k.toLowerCase();
    if (v === undefined || HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('egress-')) continue;
    out[k] = v;
  }
  return out;
}

/** `name: value` lines of a flat [name, value, …] list. */
export function headerLines(flat: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i]!}: ${flat[i + 1]!}`);
  return out;
}

/** The request headers the gate consumes and never forwards, besides the hop-by-hop ones: the permit header and Proxy-Authorization. */
export function gateOwnHeaders(permitHeader: string): ReadonlySet<string> {
  return new Set([permitHeader.toLowerCase(), 'proxy-authorization']);
}
