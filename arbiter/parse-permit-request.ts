/**
 * A permit request (SPEC §12 `POST /v1/permits`) from its JSON body to an Ask: the fields
 * checked, the request normalized and matched to the gates' route maps as the gate does (so
 * the caller need not name the surface and action), the route's body and query bindings
 * required. No sockets, no state.
 */
import { normalizeRequest, parseConnectAuthority, RequestInvalidError } from '../policy/normalize-request.js';
import { readJsonRpcClaim } from '../policy/parse-jsonrpc-call.js';
import type { CompiledPolicy, JsonRpcCall, Route } from '../policy/types.js';
import { problem, type Answer } from './arbiter-reasons.js';
import type { RequestFacts } from './permit-requests.js';

/** A parsed and matched permit request. */
export interface Ask {
  gate: string;
  request: RequestFacts;
  surface: string;
  action: string;
  route: Route;
  idempotencyKey: string | null;
  txn: string | null;
  reason: string | null;
}

export type Parsed = { ok: true; ask: Ask } | { ok: false; answer: Answer };

const DIGEST = /^[A-Za-z0-9_-]{43}$/;

const optStr = (v: unknown, max: number): v is string | undefined => v === undefined || (typeof v === 'string' && v !== '' && v.length <= max);

/**
 * Parses a `POST /v1/permits` body and matches its request to the route maps in effect, as
 * the gate would (the same normalizer and matcher); undefined `policy` (none fresh) is
 * POLICY_UNAVAILABLE. A refusal is an answer; the caller logs it.
 */
export function parsePermitRequest(body: unknown, policy: CompiledPolicy | undefined): Parsed {
  const bad = (detail: string): Parsed => ({ ok: false, answer: problem('REQUEST_INVALID', detail) });
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return bad('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const r = b.request as Record<string, unknown> | undefined;
  if (typeof b.gate !== 'string' || b.gate === '' || b.gate.length > 200) return bad('"gate" (the gate id, the permit audience) is required');
  if (!r || typeof r !== 'object' || typeof r.method !== 'string' || typeof r.url !== 'string') return bad('"request" with "method" and "url" is required');
  for (const k of ['body_sha256', 'query_sha256'] as const) {
    if (r[k] !== undefined && (typeof r[k] !== 'string' || !DIGEST.test(r[k] as string))) return bad(`request.${k} must be a base64url SHA-256 (43 characters)`);
  }
  if (!optStr(b.surface, 200) || !optStr(b.action, 200) || !optStr(b.idempotency_key, 200) || !optStr(b.txn, 200) || !optStr(b.reason, 1000)) {
    return bad('surface, action, idempotency_key, txn and reason are non-empty strings when given');
  }
  const method = r.method.toUpperCase();
  if (!policy) return { ok: false, answer: problem('POLICY_UNAVAILABLE', 'no fresh route maps are loaded (none yet, or the bundle is past max_stale)') };
  let route: Route | undefined;
  let url: string;
  let call: JsonRpcCall | undefined;
  try {
    if (method === 'CONNECT') {
      const a = parseConnectAuthority(r.url);
      route = policy.matchTunnel(a.host, a.port);
      url = r.url.toLowerCase();
    } else {
      const n = normalizeRequest({ method, target: r.url });
      // A route chosen by the JSON-RPC call in the body (SPEC §4) needs the call named: the
      // body itself never comes here, only its digest.
      call = r.jsonrpc !== undefined ? readJsonRpcClaim(r.jsonrpc) : undefined;
      if (call === undefined && policy.routesByBody(n)) {
        return bad('the route of this request is chosen by the JSON-RPC call in its body: name it in request.jsonrpc {"method", "tool"}');
      }
      route = policy.match(n, call);
      url = r.url;
    }
  } catch (e) {
    if (e instanceof RequestInvalidError) return bad(`the request is one the gate refuses: ${e.message}`);
    throw e;
  }
  if (!route) return { ok: false, answer: problem('ROUTE_UNMATCHED', `no route matches ${method} ${url.split('?')[0]}`) };
  const s = { surface: route.surface, action: route.action };
  if (route.authorize === 'deny') return { ok: false, answer: problem('ROUTE_DENY', 'the route denies this action', s) };
  if ((b.surface !== undefined && b.surface !== route.surface) || (b.action !== undefined && b.action !== route.action)) {
    return { ok: false, answer: problem('REQUEST_INVALID', `the request matches ${route.surface}/${route.action}, not the surface/action named`, s) };
  }
  if (route.bindBody && r.body_sha256 === undefined) return { ok: false, answer: problem('REQUEST_INVALID', 'the route binds the body: request.body_sha256 is required', s) };
  if (route.bindQuery && r.query_sha256 === undefined) return { ok: false, answer: problem('REQUEST_INVALID', 'the route binds the query: request.query_sha256 is required', s) };
  return {
    ok: true,
    ask: {
      gate: b.gate, route, ...s,
      request: {
        method, url, body_sha256: (r.body_sha256 as string | undefined) ?? null, query_sha256: (r.query_sha256 as string | undefined) ?? null,
        ...(call ? { jsonrpc: { method: call.method, ...(call.tool !== undefined ? { tool: call.tool } : {}) } } : {}),
      },
      idempotencyKey: (b.idempotency_key as string | undefined) ?? null, txn: (b.txn as string | undefined) ?? null, reason: (b.reason as string | undefined) ?? null,
    },
  };
}

/**
 * An approved request matched again, at signing, against the route maps in effect then: the
 * same parse as its POST, with the surface and action it was approved for. A request the
 * arbiter would now refuse (its route gone, now `deny`, another action, a digest now bound)
 * is refused, however many people approved it.
 */
export function rematchPermitRequest(r: { gate: string; request: RequestFacts; surface: string; action: string }, policy: CompiledPolicy | undefined): Parsed {
  const q = r.request;
  return parsePermitRequest({
    gate: r.gate, surface: r.surface, action: r.action,
    request: {
      method: q.method, url: q.url, ...(q.body_sha256 !== null ? { body_sha256: q.body_sha256 } : {}),
      ...(q.query_sha256 !== null ? { query_sha256: q.query_sha256 } : {}), ...(q.jsonrpc ? { jsonrpc: q.jsonrpc } : {}),
    },
  }, policy);
}
