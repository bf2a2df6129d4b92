/**
 * Route maps and exceptions compiled once at load into a frozen CompiledPolicy (SPEC §4).
 *
 * Index: routes are bucketed by exact host (IP literals included) and by wildcard parent
 * domain, each bucket sorted most specific first (see compiled-route.ts for the key), so
 * `match()` does two Map lookups and scans two small buckets: its cost depends on how many
 * routes share the request's host, not on how many routes there are. Tunnel routes live in
 * their own index and are only seen by `matchTunnel()`.
 *
 * Determinism: the first fitting route of the exact bucket wins, else of the wildcard bucket
 * (exact host beats wildcard). Within a bucket, routes with equal keys never fit one request:
 * compile refuses such pairs as a ConfigError naming both places. Equal-key routes that cannot
 * overlap are ordered by file, line and column, so the order never depends on load order.
 *
 * JSON-RPC: a route with a `jsonrpc` clause fits only the call its body holds. Which requests
 * need their body read to be routed is known at load: the hosts whose buckets hold such a
 * route, and only POST (the one method such a route takes). Every other request pays one
 * string comparison or a Set lookup for it, and its body is never read to be matched.
 */
import { createHash } from 'node:crypto';
import type { CompiledPolicy, JsonRpcCall, NormalizedRequest, PolicyException, Route } from './types.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { callFits, compareSpecificity, compileRoute, portFits, requestFits, sharedRequest, tunnelPortFits, type CompiledRoute } from './compiled-route.js';
import { normalizeHost } from './normalize-request.js';

export interface PolicyInput {
  routes: Route[];
  exceptions: PolicyException[];
  /** The route-map files as read; hashed into `digest`. */
  sources: { path: string; text: string }[];
}

interface HostIndex {
  exact: Map<string, CompiledRoute[]>;
  wildcard: Map<string, CompiledRoute[]>;
  /** Keys of the `exact` and `wildcard` buckets that hold a route with a `jsonrpc` clause. */
  jsonrpcExact: Set<string>;
  jsonrpcWildcard: Set<string>;
}

const NONE: readonly CompiledRoute[] = Object.freeze([]);
const SCHEMES = ['http', 'https'] as const;

function bySourceOrder(a: CompiledRoute, b: CompiledRoute): number {
  const x = a.route.where;
  const y = b.route.where;
  if (x.file !== y.file) return x.file < y.file ? -1 : 1;
  return x.line - y.line || x.col - y.col;
}

function buildIndex(routes: CompiledRoute[]): HostIndex {
  const index: HostIndex = { exact: new Map(), wildcard: new Map(), jsonrpcExact: new Set(), jsonrpcWildcard: new Set() };
  for (const c of routes) {
    if (c.jsonrpc) (c.wildcard ? index.jsonrpcWildcard : index.jsonrpcExact).add(c.hostKey);
    const map = c.wildcard ? index.wildcard : index.exact;
    const bucket = map.get(c.hostKey);
    if (bucket) bucket.push(c);
    else map.set(c.hostKey, [c]);
  }
  for (const map of [index.exact, index.wildcard]) {
    for (const bucket of map.values()) bucket.sort((a, b) => compareSpecificity(a, b) || bySourceOrder(a, b));
  }
  return index;
}

function at(r: Route): string {
  return `${r.where.file}:${r.where.line}`;
}

/** Pairs of equally specific routes in one bucket that both match some request. */
function findConflicts(index: HostIndex): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const map of [index.exact, index.wildcard]) {
    for (const bucket of map.values()) {
      // Buckets are sorted by key, so equally specific routes are adjacent.
      for (let i = 0; i < bucket.length; i++) {
        const a = bucket[i] as CompiledRoute;
        for (let j = i + 1; j < bucket.length && compareSpecificity(a, bucket[j] as CompiledRoute) === 0; j++) {
          const b = bucket[j] as CompiledRoute;
          const example = sharedRequest(a, b);
          if (example === undefined) continue;
          const say = (x: Route, y: Route): ConfigProblem => ({
            ...x.where,
            message: `route ${x.surface}/${x.action} conflicts with route ${y.surface}/${y.action} at ${at(y)}: equally specific, both match ${example}`,
          });
          problems.push(say(a.route, b.route), say(b.route, a.route));
        }
      }
    }
  }
  return problems;
}

/**
 * The first route for `host` that `fits`, exact bucket first; IP literals never match
 * wildcards. Plain loops: this runs for every request.
 */
function findFor(index: HostIndex, host: string, hostIsIp: boolean, fits: (c: CompiledRoute) => boolean): Route | undefined {
  for (const c of index.exact.get(host) ?? NONE) if (fits(c)) return c.route;
  if (hostIsIp) return undefined;
  const dot = host.indexOf('.');
  if (dot <= 0) return undefined;
  for (const c of index.wildcard.get(host.slice(dot + 1)) ?? NONE) if (fits(c)) return c.route;
  return undefined;
}

/** Whether a bucket the host's requests are matched in holds a route with a `jsonrpc` clause (set lookups only). */
function mayRouteByBody(index: HostIndex, host: string, hostIsIp: boolean): boolean {
  if (index.jsonrpcExact.size === 0 && index.jsonrpcWildcard.size === 0) return false;
  if (index.jsonrpcExact.has(host)) return true;
  if (hostIsIp) return false;
  const dot = host.indexOf('.');
  return dot > 0 && index.jsonrpcWildcard.has(host.slice(dot + 1));
}

/** A CONNECT host as routes name it, or undefined when it is no valid host. */
function connectHost(host: string): { host: string; hostIsIp: boolean } | undefined {
  try {
    return normalizeHost(host);
  } catch {
    return undefined;
  }
}

/**
 * base64url SHA-256 over the sources sorted by path (UTF-16 code unit order); each path and
 * text is hashed as an 8-byte big-endian UTF-8 byte length followed by its bytes, so no two
 * different source sets hash the same input.
 */
export function policyDigest(sources: readonly { path: string; text: string }[]): string {
  const h = createHash('sha256');
  const field = (s: string): void => {
    const bytes = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(bytes.length));
    h.update(len).update(bytes);
  };
  for (const s of [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    field(s.path);
    field(s.text);
  }
  return h.digest('base64url');
}

function warningsFor(exceptions: readonly PolicyException[], routes: readonly Route[], nowMs: number): string[] {
  const named = new Set(routes.map((r) => `${r.surface}\0${r.action}`));
  const out: string[] = [];
  for (const e of exceptions) {
    const where = `${e.where.file}:${e.where.line}:${e.where.col}`;
    if (e.expires <= nowMs) out.push(`${where}: exception ${e.id} expired at ${new Date(e.expires).toISOString()}; it is inert`);
    if (!named.has(`${e.surface}\0${e.action}`)) out.push(`${where}: exception ${e.id} names ${e.surface}/${e.action}, which no route has`);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Compiles validated routes and exceptions (route hosts lowercased, canonical, as the loader
 * makes them) into a frozen CompiledPolicy.
 *
 * @throws ConfigError when two equally specific routes can match one request (a problem at
 * each route, naming the other's file:line), or a route's path can never match.
 */
export function compilePolicy(input: PolicyInput, opts: { nowMs: number }): CompiledPolicy {
  const problems: ConfigProblem[] = [];
  const compiled: CompiledRoute[] = [];
  for (const r of input.routes) {
    const c = compileRoute(r);
    if ('error' in c) problems.push({ ...r.where, message: `route ${r.surface}/${r.action}: ${c.error}` });
    else compiled.push(c);
  }
  const http = buildIndex(compiled.filter((c) => !c.route.tunnel));
  const tunnels = buildIndex(compiled.filter((c) => c.route.tunnel));
  problems.push(...findConflicts(http), ...findConflicts(tunnels));
  if (problems.length > 0) throw new ConfigError(problems);

  const routes = deepFreeze([...input.routes]);
  const exceptions = deepFreeze([...input.exceptions]);
  const bySurfaceAction = new Map<string, PolicyException[]>();
  for (const e of exceptions) {
    const k = `${e.surface}\0${e.action}`;
    const list = bySurfaceAction.get(k);
    if (list) list.push(e);
    else bySurfaceAction.set(k, [e]);
  }
  const digest = policyDigest(input.sources);

  return Object.freeze({
    version: digest.slice(0, 12),
    digest,
    routes,
    exceptions,
    warnings: Object.freeze(warningsFor(exceptions, routes, opts.nowMs)),
    match(req: NormalizedRequest, call?: JsonRpcCall): Route | undefined {
      const segs = req.path.slice(1).split('/');
      return findFor(http, req.host, req.hostIsIp, (c) => requestFits(c, req.scheme, req.port, req.method, segs) && callFits(c, call));
    },
    routesByBody(req: NormalizedRequest): boolean {
      if (req.method !== 'POST' || !mayRouteByBody(http, req.host, req.hostIsIp)) return false;
      const segs = req.path.slice(1).split('/');
      // The first route the request fits, its body aside: when it has no jsonrpc clause it
      // wins whatever the body holds (every jsonrpc route it fits comes later, less specific).
      return findFor(http, req.host, req.hostIsIp, (c) => requestFits(c, req.scheme, req.port, req.method, segs))?.match.jsonrpc !== undefined;
    },
    canMatchAuthority(host: string, port: number): boolean {
      const h = connectHost(host);
      const fits = (c: CompiledRoute): boolean => SCHEMES.some((s) => (c.route.match.scheme ?? s) === s && portFits(c, s, port));
      return h !== undefined && findFor(http, h.host, h.hostIsIp, fits) !== undefined;
    },
    matchTunnel(host: string, port: number): Route | undefined {
      const h = connectHost(host);
      return h === undefined ? undefined : findFor(tunnels, h.host, h.hostIsIp, (c) => tunnelPortFits(c, port));
    },
    exceptionFor(surface: string, action: string, nowMs: number): PolicyException | undefined {
      return bySurfaceAction.get(`${surface}\0${action}`)?.find((e) => e.expires > nowMs);
    },
  });
}
