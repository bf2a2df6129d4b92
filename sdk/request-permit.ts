/**
 * The agent's side of the arbiter (SPEC §12): ask for a permit for one request and wait out
 * PENDING (polling as Retry-After says, until the signal aborts), and a fetch that asks for a
 * permit for each request and sends it through the gate with the permit attached.
 *
 * The fetch functions are typed structurally, so Node's global fetch and undici's both fit.
 */
import { createHash } from 'node:crypto';
import { jsonRpcCallIn } from '../policy/parse-jsonrpc-call.js';

/** What requestPermit needs of a fetch: Node's global fetch and undici's fetch both fit. */
export type FetchLike = (input: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  json(): Promise<unknown>;
}>;

export interface RequestPermitOptions {
  /** The arbiter's base URL, e.g. http://127.0.0.1:8181. */
  arbiter: string;
  /** The caller's bearer token (or a JWT such as a projected service-account token). */
  token: string;
  /** The gate id (the permit's audience). */
  gate: string;
  method: string;
  url: string;
  /** The body to be sent: its SHA-256 is what the permit binds; a JSON-RPC request's method and tool are named to the arbiter too. */
  body?: string | Uint8Array;
  idempotencyKey?: string;
  txn?: string;
  /** Shown to approvers. */
  reason?: string;
  signal?: AbortSignal;
  fetch?: FetchLike;
}

export interface IssuedPermit {
  permit: string;
  jti: string;
  expiresAt: string;
  receipt: string;
}

/** The arbiter refused (its problem+json reason and status), or could not be reached. */
export class PermitRequestError extends Error {
  override name = 'PermitRequestError';
  constructor(readonly reason: string, readonly status: number, message: string) {
    super(message);
  }
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal?.reason); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

/** Asks the arbiter for a permit and resolves with it, waiting while a person decides. */
export async function requestPermit(o: RequestPermitOptions): Promise<IssuedPermit> {
  const f: FetchLike = o.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const base = o.arbiter.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${o.token}`, 'content-type': 'application/json', accept: 'application/json' };
  const u = new URL(o.url);
  // A JSON-RPC request body (an MCP tool call) is named by its call, which routes on that
  // endpoint choose by; the arbiter never sees the body, only its digest.
  const call = o.body !== undefined ? jsonRpcCallIn(o.body) : undefined;
  const body = JSON.stringify({
    gate: o.gate,
    request: {
      method: o.method.toUpperCase(), url: o.url,
      ...(o.body !== undefined ? { body_sha256: createHash('sha256').update(o.body).digest('base64url') } : {}),
      ...(u.search !== '' ? { query_sha256: createHash('sha256').update(u.search.slice(1)).digest('base64url') } : {}),
      ...(call ? { jsonrpc: { method: call.method, ...(call.tool !== undefined ? { tool: call.tool } : {}) } } : {}),
    },
    ...(o.idempotencyKey !== undefined ? { idempotency_key: o.idempotencyKey } : {}),
    ...(o.txn !== undefined ? { txn: o.txn } : {}),
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
  });
  let res = await f(`${base}/v1/permits`, { method: 'POST', headers, body, ...(o.signal ? { signal: o.signal } : {}) });
  for (;;) {
    const json = (await res.json()) as Record<string, unknown>;
    if ((res.status === 200 || res.status === 201) && typeof json.permit === 'string') {
      return { permit: json.permit, jti: String(json.jti), expiresAt: String(json.expires_at), receipt: String(json.receipt) };
    }
    if (res.status !== 202 || typeof json.poll !== 'string') {
      throw new PermitRequestError(String(json.reason ?? 'UNKNOWN'), res.status, `the arbiter answered ${res.status} ${String(json.reason ?? '')}: ${String(json.detail ?? '')}`);
    }
    const after = Number(res.headers.get('retry-after'));
    await sleep((Number.isFinite(after) && after > 0 ? after : 2) * 1000, o.signal);
    res = await f(`${base}${json.poll}`, { method: 'GET', headers, ...(o.signal ? { signal: o.signal } : {}) });
  }
}

export interface PermitFetchOptions extends Omit<RequestPermitOptions, 'method' | 'url' | 'body' | 'signal'> {
  /** The permit header of the gate (default Egress-Permit). */
  header?: string;
}

/**
 * A fetch that asks the arbiter for a permit for each request, then sends it with the permit
 * attached. Route it through the gate as usual (`dispatcher: gateDispatcher(…)` in `init`, or
 * HTTP(S)_PROXY). Bodies must be a string or bytes: the permit binds their SHA-256.
 */
export function createPermitFetch<F extends (input: string, init?: any) => Promise<unknown>>(o: PermitFetchOptions & { fetch?: F }) {
  const send = (o.fetch ?? globalThis.fetch) as unknown as F;
  return async (url: string | URL, init: Parameters<F>[1] & { method?: string; body?: string | Uint8Array; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Awaited<ReturnType<F>>> => {
    const target = String(url);
    const { fetch: _f, header, ...ask } = o;
    const p = await requestPermit({ ...ask, method: init.method ?? 'GET', url: target, ...(init.body !== undefined ? { body: init.body } : {}), ...(init.signal ? { signal: init.signal } : {}) });
    return send(target, { ...init, headers: { ...(init.headers ?? {}), [header ?? 'Egress-Permit']: p.permit } }) as Awaited<ReturnType<F>>;
  };
}
