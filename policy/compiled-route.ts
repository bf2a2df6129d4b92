/**
 * One route prepared for matching (SPEC §4): its path pattern split once into segments, its
 * methods and ports in sets, and its specificity key. Everything the request path reads is
 * computed here, at load.
 *
 * Specificity is a key compared lexicographically, larger = more specific:
 *   1. host: exact name or IP literal (1) over `*.` wildcard (0);
 *   2. path, segment by segment from the left: literal (3) over `{param}` (2) over a trailing
 *      `/**` (1); the end of a pattern without `/**` is 4, so `/v1` beats `/v1/**` for `/v1`
 *      and `/v1/charges` beats `/v1/**`. Every path part ends in its only 4 or 1, so two
 *      different path parts differ at or before the shorter one's end, and the fields after
 *      the path are compared only between routes of the same path shape;
 *   3. methods: a named list (1) over "*" (0);
 *   4. jsonrpc: a named tool (3) over a named method (2) over `method: "*"` (1) over no clause (0);
 *   5. ports: an explicit list (2) over the scheme's default (1) over "*" (0);
 *   6. scheme: named (1) over unnamed (0).
 * Routes with equal keys that can both match one request are a conflict (compile-policy).
 */
import type { JsonRpcCall, Route } from './types.js';
import { normalizeSegment } from './normalize-path.js';
import { DEFAULT_PORT, type Scheme } from './normalize-request.js';

const LITERAL = 3;
const PARAM = 2;
const REST = 1;
const END = 4;
const PARAM_SEGMENT = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const SCHEMES: readonly Scheme[] = ['http', 'https'];

export interface CompiledRoute {
  readonly route: Route;
  readonly wildcard: boolean;
  /** The exact host, or the parent domain of a wildcard (`example.com` for `*.example.com`). */
  readonly hostKey: string;
  /** Normalized literal segments; null for a `{param}` (one non-empty segment). */
  readonly segments: readonly (string | null)[];
  /** The pattern ends in `/**`: zero or more further segments. */
  readonly rest: boolean;
  readonly methods: ReadonlySet<string> | '*';
  /** undefined: the default port of the route's scheme, else of the request's. */
  readonly ports: ReadonlySet<number> | '*' | undefined;
  /** The `jsonrpc` clause; undefined: the route does not look at the body. */
  readonly jsonrpc: Route['match']['jsonrpc'];
  readonly key: readonly number[];
}

/** The specificity of a route's `jsonrpc` clause (key field 4). */
function jsonRpcRank(j: Route['match']['jsonrpc']): number {
  if (j === undefined) return 0;
  if (j.method === '*') return 1;
  return j.tool === undefined ? 2 : 3;
}

/** Compiles one route; returns an error message when its path can never match a normalized path. */
export function compileRoute(route: Route): CompiledRoute | { error: string } {
  const { host, path, methods, ports, scheme } = route.match;
  const wildcard = host.startsWith('*.');
  const parts = path.slice(1).split('/');
  const rest = parts[parts.length - 1] === '**';
  if (rest) parts.pop();
  const segments: (string | null)[] = [];
  for (const p of parts) {
    if (PARAM_SEGMENT.test(p)) {
      segments.push(null);
      continue;
    }
    let seg: string;
    try {
      seg = normalizeSegment(p);
    } catch (e) {
      return { error: `path ${JSON.stringify(path)} never matches a request: ${(e as Error).message}` };
    }
    if (seg === '.' || seg === '..') return { error: `path ${JSON.stringify(path)} never matches a request: it holds a dot segment` };
    segments.push(seg);
  }
  const key = [
    wildcard ? 0 : 1,
    ...segments.map((s) => (s === null ? PARAM : LITERAL)),
    rest ? REST : END,
    methods === '*' ? 0 : 1,
    jsonRpcRank(route.match.jsonrpc),
    ports === '*' ? 0 : ports === undefined ? 1 : 2,
    scheme ? 1 : 0,
  ];
  return {
    route,
    wildcard,
    hostKey: wildcard ? host.slice(2) : host,
    segments,
    rest,
    methods: methods === '*' ? '*' : new Set(methods),
    ports: ports === '*' ? '*' : ports === undefined ? undefined : new Set(ports),
    jsonrpc: route.match.jsonrpc,
    key,
  };
}

/** Orders more specific first; 0 when equally specific. */
export function compareSpecificity(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.min(a.key.length, b.key.length);
  for (let i = 0; i < n; i++) {
    const d = (b.key[i] as number) - (a.key[i] as number);
    if (d !== 0) return d;
  }
  return b.key.length - a.key.length;
}

/** Whether the route accepts `port` for a request with `scheme`. */
export function portFits(c: CompiledRoute, scheme: Scheme, port: number): boolean {
  if (c.ports === '*') return true;
  if (c.ports !== undefined) return c.ports.has(port);
  return port === DEFAULT_PORT[c.route.match.scheme ?? scheme];
}

/**
 * Whether a tunnel route accepts a CONNECT to `port`. A tunnel carries TLS, so a tunnel
 * route that names no port takes 443 (its scheme is https or unnamed).
 */
export function tunnelPortFits(c: CompiledRoute, port: number): boolean {
  if (c.ports === '*') return true;
  if (c.ports !== undefined) return c.ports.has(port);
  return port === DEFAULT_PORT[c.route.match.scheme ?? 'https'];
}

/**
 * Whether the request fits scheme, port, method and path. The host was chosen by the index.
 * `segs` is the request path split on "/" after the leading one.
 */
export function requestFits(c: CompiledRoute, scheme: Scheme, port: number, method: string, segs: readonly string[]): boolean {
  const s = c.route.match.scheme;
  if (s !== undefined && s !== scheme) return false;
  if (!portFits(c, scheme, port)) return false;
  if (c.methods !== '*' && !c.methods.has(method)) return false;
  const n = c.segments.length;
  if (c.rest ? segs.length < n : segs.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const p = c.segments[i];
    const q = segs[i] as string;
    if (p === null ? q === '' : p !== q) return false;
  }
  return true;
}

/**
 * Whether the route's `jsonrpc` clause accepts the call the body held: a route without one
 * accepts any request; one with a clause accepts only a call (never a request whose body was
 * not read) of its method and, when it names one, its tool.
 */
export function callFits(c: CompiledRoute, call: JsonRpcCall | undefined): boolean {
  const j = c.jsonrpc;
  if (j === undefined) return true;
  if (call === undefined) return false;
  if (j.method !== '*' && j.method !== call.method) return false;
  return j.tool === undefined || j.tool === call.tool;
}

/** A call both clauses accept (as text for a conflict message), null when there is none; '' when neither route has a clause. */
function sharedCall(a: CompiledRoute, b: CompiledRoute): string | null {
  const x = a.jsonrpc;
  const y = b.jsonrpc;
  if (x === undefined && y === undefined) return '';
  // Equal keys: both have a clause of the same rank.
  if (x === undefined || y === undefined) return null;
  if (x.method !== y.method || x.tool !== y.tool) return null;
  return ` (JSON-RPC ${x.method === '*' ? 'any method' : x.method}${x.tool !== undefined ? ` tool ${x.tool}` : ''})`;
}

/** Some scheme for which both routes accept a common port, or undefined. */
function commonPort(a: CompiledRoute, b: CompiledRoute): { scheme: Scheme; port: number } | undefined {
  for (const s of SCHEMES) {
    for (const port of [DEFAULT_PORT[s], ...(a.ports instanceof Set ? a.ports : []), ...(b.ports instanceof Set ? b.ports : [])]) {
      const fit = a.route.tunnel
        ? tunnelPortFits(a, port) && tunnelPortFits(b, port)
        : (a.route.match.scheme ?? s) === s && (b.route.match.scheme ?? s) === s && portFits(a, s, port) && portFits(b, s, port);
      if (fit) return { scheme: s, port };
    }
  }
  return undefined;
}

/**
 * A request both routes match, as text for a conflict message, or undefined when none
 * exists. Only called for routes of equal keys in one host bucket, so both have the same
 * path shape and both are tunnels or neither.
 */
export function sharedRequest(a: CompiledRoute, b: CompiledRoute): string | undefined {
  if (a.hostKey !== b.hostKey || a.wildcard !== b.wildcard || a.route.tunnel !== b.route.tunnel) return undefined;
  const segs: string[] = [];
  for (let i = 0; i < a.segments.length; i++) {
    const p = a.segments[i];
    const q = b.segments[i];
    if (p !== null && q !== null && p !== q) return undefined;
    segs.push(p ?? q ?? 'x');
  }
  let method = 'GET';
  if (a.methods !== '*' || b.methods !== '*') {
    const common = a.methods === '*' ? [...(b.methods as Set<string>)] : [...a.methods].filter((m) => b.methods === '*' || b.methods.has(m));
    if (common.length === 0) return undefined;
    method = common[0] as string;
  }
  const call = sharedCall(a, b);
  if (call === null) return undefined;
  const at = commonPort(a, b);
  if (at === undefined) return undefined;
  const host = `${a.wildcard ? 'x.' : ''}${a.hostKey.includes(':') ? `[${a.hostKey}]` : a.hostKey}`;
  if (a.route.tunnel) return `CONNECT ${host}:${at.port}`;
  return `${method} ${at.scheme}://${host}:${at.port}/${segs.join('/')}${call}`;
}
