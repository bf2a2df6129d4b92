/**
 * One route-map file (SPEC §4) to validated Routes and PolicyExceptions. Every field is
 * checked and every problem positioned; conflicts between routes are the compiler's job
 * (they need all files at once).
 */
import type { Node } from 'yaml';
import { readBool, readDuration, readEnum, readString, readStringList } from './read-fields.js';
import { checkHostPattern, checkPathPattern } from './route-pattern.js';
import { TOOLS_CALL } from './parse-jsonrpc-call.js';
import { resolveSecretRef, secretRefOf } from './resolve-secret.js';
import type { Authorize, GateMode, JsonRpcMatch, OnSilence, PolicyException, Route } from './types.js';
import { scalarValue, seqItems, YamlSource, type Fields } from './yaml-source.js';

export interface RouteMapOptions {
  /** Absolute `secrets.dir`; credentials naming `${secret:NAME}` read the file NAME there. */
  secretsDir?: string;
  /**
   * false: a credentials reference is checked but its secret is not read — the route keeps the
   * reference as its value. For the arbiter, which matches the gates' routes but never
   * forwards, so it never needs (nor holds) a gate's credentials. Default true.
   */
  readSecrets?: boolean;
}

export interface ParsedRouteMap {
  routes: Route[];
  exceptions: PolicyException[];
}

const ROUTE_KEYS = ['surface', 'action', 'match', 'authorize', 'single_use', 'bind_body', 'bind_query', 'credentials', 'mode', 'must_enforce', 'on_silence', 'pause_max', 'tunnel'] as const;
const MATCH_KEYS = ['scheme', 'host', 'port', 'method', 'path', 'jsonrpc'] as const;
const JSONRPC_KEYS = ['method', 'tool'] as const;
const EXCEPTION_KEYS = ['id', 'surface', 'action', 'reason', 'approved_by', 'expires'] as const;
const AUTHORIZE: readonly Authorize[] = ['permit', 'online', 'permit+online', 'none', 'deny'];
/** Methods that are safe to repeat, so their permits are reusable unless single_use says otherwise. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Route-map keys the loader accepts (the schema test checks each one is documented). */
export const ROUTE_MAP_KEYS = { top: ['routes', 'exceptions'], route: ROUTE_KEYS, match: MATCH_KEYS, jsonrpc: JSONRPC_KEYS, credentials: ['header', 'value'], exception: EXCEPTION_KEYS } as const;

/**
 * Validates one route-map file's text. Throws ConfigError with every problem found, each
 * at its `file:line:col`. An empty file is a valid map with nothing in it.
 */
export function parseRouteMap(text: string, file: string, opts: RouteMapOptions = {}): ParsedRouteMap {
  const src = new YamlSource(file, text);
  src.throwIfProblems();
  const out: ParsedRouteMap = { routes: [], exceptions: [] };
  if (src.root === null) return out;
  const top = src.map(src.root, ROUTE_MAP_KEYS.top, 'route map');
  if (top) {
    for (const [name, read] of [['routes', readRoute], ['exceptions', readException]] as const) {
      if (!top.has(name) || top.value(name) == null) continue;
      const items = seqItems(top.value(name));
      if (!items) {
        top.problem(name, `route map: "${name}" must be a list`);
        continue;
      }
      for (const item of items) {
        const v = read(src, item, opts, top.at(name));
        if (v && 'match' in v) out.routes.push(v);
        else if (v) out.exceptions.push(v);
      }
    }
  }
  src.throwIfProblems();
  return out;
}

function readRoute(src: YamlSource, item: Node | null, opts: RouteMapOptions, parent: Node): Route | undefined {
  const f = src.map(item, ROUTE_KEYS, 'route', parent);
  if (!f) return undefined;
  const where = src.pos(item);
  const surface = readString(f, 'surface', { required: true });
  const action = readString(f, 'action', { required: true });
  const authorize = f.requires('authorize') ? readEnum(f, 'authorize', AUTHORIZE) : undefined;
  const match = f.requires('match') ? readMatch(src, f) : undefined;
  const tunnel = readBool(f, 'tunnel', false);
  const mode = readEnum<GateMode>(f, 'mode', ['enforce', 'report']);
  const mustEnforce = readBool(f, 'must_enforce', false);
  if (mustEnforce && mode === 'report') f.problem('mode', 'route: "mode: report" contradicts "must_enforce: true" (a must-enforce route is never in report mode)');
  const bindBody = readBool(f, 'bind_body', false);
  const bindQuery = readBool(f, 'bind_query', false);
  const credentials = f.has('credentials') ? readCredentials(src, f, opts) : undefined;
  if (tunnel && match) {
    // (A jsonrpc clause made its method POST: the one problem is the clause.)
    if (match.methods !== '*' && !match.jsonrpc) f.problem('match', 'route: a tunnel route matches scheme, host and port only; its method must be "*" or omitted');
    if (match.path !== '/**') f.problem('match', 'route: a tunnel route matches scheme, host and port only; its path must be "/**" or omitted');
    if (match.scheme === 'http') f.problem('match', 'route: a tunnel route carries TLS; its scheme must be https or omitted');
    if (match.jsonrpc) f.problem('match', 'route: a tunnel route cannot match "jsonrpc" (the gate does not see inside the tunnel)');
  }
  if (tunnel && (bindBody || bindQuery)) f.problem(bindBody ? 'bind_body' : 'bind_query', 'route: a tunnel route cannot bind the body or query (the gate does not see inside the tunnel)');
  if (tunnel && f.has('credentials')) f.problem('credentials', 'route: a tunnel route cannot set credentials (the gate does not see inside the tunnel)');
  const safeOnly = match !== undefined && match.methods !== '*' && match.methods.every((m) => SAFE_METHODS.has(m));
  const singleUse = readBool(f, 'single_use', !safeOnly);
  const onSilence = readEnum<OnSilence>(f, 'on_silence', ['terminate', 'pause'], 'terminate') ?? 'terminate';
  const pauseMaxMs = readDuration(f, 'pause_max', 5_000);
  if (!surface || !action || !authorize || !match) return undefined;
  return {
    surface, action, match, authorize, singleUse, bindBody, bindQuery,
    ...(credentials ? { credentials } : {}),
    ...(mode ? { mode } : {}),
    mustEnforce, onSilence, pauseMaxMs, tunnel, where,
  };
}

function readMatch(src: YamlSource, route: Fields): Route['match'] | undefined {
  const f = src.map(route.value('match'), MATCH_KEYS, 'match', route.at('match'));
  if (!f) return undefined;
  const scheme = readEnum<'http' | 'https'>(f, 'scheme', ['http', 'https']);
  let host: string | undefined;
  const hostText = readString(f, 'host', { required: true });
  if (hostText !== undefined) {
    const h = checkHostPattern(hostText);
    if ('error' in h) f.problem('host', `match: ${h.error}`);
    else host = h.host;
  }
  let path = '/**';
  const pathText = readString(f, 'path');
  if (pathText !== undefined) {
    const p = checkPathPattern(pathText);
    if ('error' in p) f.problem('path', `match: ${p.error}`);
    else path = p.path;
  }
  const ports = readPorts(src, f);
  let methods = readMethods(src, f);
  const jsonrpc = f.has('jsonrpc') ? readJsonRpc(src, f) : undefined;
  if (f.has('jsonrpc')) {
    // JSON-RPC over HTTP is POSTed (MCP's streamable HTTP included); its GET (a server's event
    // stream) and DELETE (the end of a session) carry no call and need a route of their own.
    if (!f.has('method') || f.value('method') == null) methods = ['POST'];
    else if (methods !== undefined && (methods === '*' || methods.length !== 1 || methods[0] !== 'POST')) {
      f.problem('method', 'match: a route with "jsonrpc" matches JSON-RPC requests, which are POSTed: its method must be POST or omitted');
      methods = undefined;
    }
  }
  if (host === undefined || ports === null || methods === undefined || jsonrpc === null) return undefined;
  return { ...(scheme ? { scheme } : {}), host, ...(ports !== undefined ? { ports } : {}), methods, path, ...(jsonrpc ? { jsonrpc } : {}) };
}

/**
 * `match.jsonrpc` (SPEC §4): `method` (a JSON-RPC method or "*"), and `tool` (`params.name`)
 * only with `method: tools/call`, where it means something; `tool: "*"` is the same as no
 * tool. null: invalid (already reported).
 */
function readJsonRpc(src: YamlSource, match: Fields): JsonRpcMatch | null {
  const f = src.map(match.value('jsonrpc'), JSONRPC_KEYS, 'jsonrpc', match.at('jsonrpc'));
  if (!f) return null;
  const method = readString(f, 'method', { required: true });
  const tool = readString(f, 'tool');
  if (method === undefined || (f.has('tool') && tool === undefined)) return null;
  if (tool !== undefined && method !== TOOLS_CALL) {
    f.problem('tool', `jsonrpc: "tool" matches params.name of a tools/call request; it needs "method: tools/call" (got ${JSON.stringify(method)})`);
    return null;
  }
  return { method, ...(tool !== undefined && tool !== '*' ? { tool } : {}) };
}

/** undefined: not given (the scheme's default port); null: invalid (already reported). */
function readPorts(src: YamlSource, f: Fields): number[] | '*' | undefined | null {
  const node = f.value('port');
  if (node == null) return undefined;
  if (scalarValue(node) === '*') return '*';
  const items = seqItems(node) ?? [node];
  if (items.length === 0) {
    f.problem('port', 'match: "port" must not be an empty list');
    return null;
  }
  const ports: number[] = [];
  for (const it of items) {
    const v = scalarValue(it);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) ports.push(v);
    else src.problem(it ?? node, `match: port ${JSON.stringify(v ?? null)} must be a number from 1 to 65535, a list of them, or "*"`);
  }
  return ports.length === items.length ? [...new Set(ports)] : null;
}

function readMethods(src: YamlSource, f: Fields): string[] | '*' | undefined {
  const node = f.value('method');
  if (node == null) return '*';
  if (scalarValue(node) === '*') return '*';
  const items = seqItems(node) ?? [node];
  const methods: string[] = [];
  for (const it of items) {
    const v = scalarValue(it);
    if (typeof v === 'string' && /^[A-Za-z]+$/.test(v) && v.toUpperCase() !== 'CONNECT') methods.push(v.toUpperCase());
    else src.problem(it ?? node, `match: method ${JSON.stringify(v ?? null)} must be an HTTP method (such as GET or POST), a list of them, or "*"`);
  }
  if (items.length === 0) f.problem('method', 'match: "method" must not be an empty list');
  return methods.length === items.length && items.length > 0 ? [...new Set(methods)] : undefined;
}

function readCredentials(src: YamlSource, route: Fields, opts: RouteMapOptions): Route['credentials'] | undefined {
  const f = src.map(route.value('credentials'), ['header', 'value'], 'credentials', route.at('credentials'));
  if (!f) return undefined;
  const header = readString(f, 'header', { required: true });
  if (header !== undefined && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) f.problem('header', 'credentials: "header" must be an HTTP header name');
  const value = readString(f, 'value', { required: true });
  if (value === undefined || header === undefined) return undefined;
  const r = opts.readSecrets === false ? { value, ...secretRefOf(value) } : resolveSecretRef(value, opts.secretsDir);
  if ('error' in r) {
    f.problem('value', `credentials: ${r.error}`);
    return undefined;
  }
  return { header, value: r.value, secret: r.secret };
}

function readException(src: YamlSource, item: Node | null, _opts: RouteMapOptions, parent: Node): PolicyException | undefined {
  const f = src.map(item, EXCEPTION_KEYS, 'exception', parent);
  if (!f) return undefined;
  const id = readString(f, 'id', { required: true });
  const surface = readString(f, 'surface', { required: true });
  const action = readString(f, 'action', { required: true });
  const reason = readString(f, 'reason', { required: true });
  const approvedBy = f.requires('approved_by') ? readStringList(f, 'approved_by', { nonEmpty: true }) : undefined;
  let expires: number | undefined;
  const exp = readString(f, 'expires', { required: true });
  if (exp !== undefined) {
    expires = RFC3339.test(exp.trim()) ? Date.parse(exp.trim()) : Number.NaN;
    if (Number.isNaN(expires)) {
      f.problem('expires', `exception: "expires" must be an RFC 3339 timestamp such as 2026-12-01T00:00:00Z (got ${JSON.stringify(exp)})`);
      expires = undefined;
    }
  }
  if (!id || !surface || !action || !reason || !approvedBy || approvedBy.length === 0 || expires === undefined) return undefined;
  return { id, surface, action, reason, approvedBy: approvedBy.map((a) => a.value), expires, where: src.pos(item) };
}
