/**
 * Stage 1, parse: an incoming HTTP request (absolute-form on the proxy port, or origin-form
 * inside a CONNECT tunnel) becomes a NormalizedRequest, or REQUEST_INVALID. Ambiguous
 * framing and repeated identity headers are refused here so that no later stage, and no
 * upstream, can read the request differently than the gate did (SPEC §4).
 */
import type { IncomingMessage } from 'node:http';
import { normalizeRequest, parseConnectAuthority, RequestInvalidError } from '../../policy/normalize-request.js';
import type { NormalizedRequest } from '../../policy/types.js';
import { h1ViewOfH2 } from './parse-h2.js';

/** Where a request arrived: the proxy port, or inside a CONNECT tunnel to host:port. */
export interface Arrival {
  scheme: 'http' | 'https';
  /** The CONNECT authority, for requests inside a tunnel. */
  tunnel?: { host: string; port: number };
  /** The request is an HTTP/2 stream of an intercepted TLS connection (ALPN h2): its head holds pseudo-headers. */
  h2?: boolean;
}

/** What parse reads of a request: its head. An IncomingMessage is one; explain builds its own. */
export type RequestHead = Pick<IncomingMessage, 'method' | 'url' | 'rawHeaders' | 'httpVersion'>;

export type Parsed =
  | { ok: true; request: NormalizedRequest; token?: string; idempotencyKey?: string; contentLength?: number; chunked: boolean }
  | { ok: false; detail: string; method: string };

/**
 * Most header lines a request may carry. The listeners set no count limit in Node's parser
 * (whose behaviour past it differs between Node 20 and 24), so every line reaches rawHeaders
 * and a request over this count is refused here, with a receipt, on every Node version.
 */
export const MAX_HEADER_LINES = 200;

/** Counts header lines by lowercased name from rawHeaders (Node merges or drops duplicates in req.headers). */
function headerValues(raw: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/**
 * Only a WebSocket upgrade may ever be spliced (SPEC §4): a GET over HTTP/1.1 without a body,
 * with one `Upgrade: websocket` and `upgrade` among the Connection tokens. Any other Upgrade
 * (h2c, several tokens, a second line), an Upgrade that Connection does not name, or a
 * Connection: upgrade without an Upgrade is refused here, whichever handler Node dispatched
 * it to — so no token can open a splice that later requests on the connection slip through.
 * Returns the refusal's detail, or undefined for a request that is not an upgrade or is a
 * well-formed WebSocket one.
 */
function checkUpgrade(req: RequestHead, raw: string[], contentLength: number | undefined, chunked: boolean): string | undefined {
  const upgrades = headerValues(raw, 'upgrade');
  const named = headerValues(raw, 'connection').some((v) => v.split(',').some((t) => t.trim().toLowerCase() === 'upgrade'));
  if (upgrades.length === 0) return named ? 'Connection: upgrade without an Upgrade header' : undefined;
  if (upgrades.length > 1 || upgrades[0]!.trim().toLowerCase() !== 'websocket') return 'only a WebSocket upgrade is accepted (Upgrade: websocket)';
  if (!named) return 'Upgrade: websocket without Connection: upgrade';
  if (req.method !== 'GET') return 'a WebSocket upgrade must be a GET';
  if (req.httpVersion !== '1.1') return 'a WebSocket upgrade needs HTTP/1.1';
  if (chunked || (contentLength ?? 0) > 0) return 'an upgrade request carries no body';
  return undefined;
}

/** Parses and normalizes; never throws for bad input. `permitHeader` is lowercase. */
export function parseRequest(head: RequestHead, arrival: Arrival, permitHeader: string): Parsed {
  let req = head;
  if (arrival.h2) {
    const view = h1ViewOfH2(head, arrival);
    if (typeof view === 'string') return { ok: false, detail: view, method: head.method ?? '' };
    req = view;
  }
  const method = req.method ?? '';
  const raw = req.rawHeaders;
  if (raw.length / 2 > MAX_HEADER_LINES) return { ok: false, detail: `more than ${MAX_HEADER_LINES} header lines`, method };
  const hosts = headerValues(raw, 'host');
  if (hosts.length > 1) return { ok: false, detail: 'repeated Host header', method };
  // HTTP/1.1 requires Host (RFC 9112 §3.2); the server lets it through so the refusal is ours.
  if (hosts.length === 0 && req.httpVersion !== '1.0') return { ok: false, detail: 'missing Host header', method };
  const permits = headerValues(raw, permitHeader);
  if (permits.length > 1) return { ok: false, detail: `repeated ${permitHeader} header`, method };
  const cls = headerValues(raw, 'content-length');
  const tes = headerValues(raw, 'transfer-encoding');
  if (cls.length > 0 && tes.length > 0) return { ok: false, detail: 'Content-Length together with Transfer-Encoding', method };
  const clValues = new Set(cls.flatMap((v) => v.split(',').map((s) => s.trim())));
  if (clValues.size > 1) return { ok: false, detail: 'differing Content-Length headers', method };
  let contentLength: number | undefined;
  if (clValues.size === 1) {
    const v = [...clValues][0]!;
    if (!/^\d{1,15}$/.test(v)) return { ok: false, detail: 'malformed Content-Length', method };
    contentLength = Number(v);
  }
  // RFC 9112 §6.1: chunked alone. Any other coding (`gzip, chunked`, `chunked, chunked`,
  // `identity`) is a body the gate would de-chunk while the origin decodes it again.
  if (tes.length > 1 || (tes.length === 1 && tes[0]!.trim().toLowerCase() !== 'chunked')) {
    return { ok: false, detail: 'a Transfer-Encoding other than chunked alone', method };
  }
  const upgrade = checkUpgrade(req, raw, contentLength, tes.length > 0);
  if (upgrade !== undefined) return { ok: false, detail: upgrade, method };
  const target = req.url ?? '';
  if (!arrival.tunnel && target.startsWith('/')) {
    return { ok: false, detail: 'origin-form request to the proxy port; send the absolute URI (use the gate as an HTTP proxy)', method };
  }
  const idks = headerValues(raw, 'idempotency-key');
  if (idks.length > 1) return { ok: false, detail: 'repeated Idempotency-Key header', method };
  let request: NormalizedRequest;
  try {
    request = normalizeRequest({
      method,
      target,
      scheme: arrival.scheme,
      authority: arrival.tunnel ? formatAuthority(arrival.tunnel.host, arrival.tunnel.port) : undefined,
      hostHeader: hosts[0],
    });
  } catch (e) {
    if (e instanceof RequestInvalidError) return { ok: false, detail: e.message, method };
    throw e;
  }
  if (arrival.tunnel && request.scheme !== arrival.scheme) {
    return { ok: false, detail: 'absolute URI inside a tunnel names another scheme', method };
  }
  if (arrival.tunnel && (request.host !== arrival.tunnel.host || request.port !== arrival.tunnel.port)) {
    return { ok: false, detail: 'request inside a tunnel names another host than the CONNECT', method };
  }
  return {
    ok: true,
    request,
    token: permits[0],
    idempotencyKey: idks[0],
    contentLength,
    chunked: tes.length > 0,
  };
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatAuthority(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export type ParsedConnect =
  | { ok: true; authority: ReturnType<typeof parseConnectAuthority> }
  | { ok: false; detail: string };

/**
 * A CONNECT's target, or REQUEST_INVALID: a target that is not host:port, or a CONNECT that
 * arrived inside a tunnel (SPEC §4) — a tunnel in a tunnel would hand bytes over with no
 * decision per request. Never throws for bad input.
 */
export function parseConnect(target: string, arrival: Arrival | undefined): ParsedConnect {
  if (arrival?.tunnel) return { ok: false, detail: 'CONNECT inside a tunnel' };
  try {
    return { ok: true, authority: parseConnectAuthority(target) };
  } catch (e) {
    if (e instanceof RequestInvalidError) return { ok: false, detail: 'CONNECT needs host:port' };
    throw e;
  }
}
