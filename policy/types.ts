/**
 * Runtime types shared by the policy modules and the proxy. YAML documents are converted
 * once into these (validated, compiled, frozen); the request path only reads them.
 */
import type { Reason, DecisionKind } from './reasons.js';

/** Where a value came from in a YAML file: 1-based line and column. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface IssuerConfig {
  iss: string;
  /** Absolute path of a JWKS file, or an https URL. */
  jwks: string;
  algorithms: string[];
}

/**
 * The `policy` section shared by the gate's and the arbiter's configs (SPEC §3, §12): route-map
 * files and folders, or exactly one https URL of a signed bundle (SPEC §5).
 */
export interface RouteMapSettings {
  /** Absolute file or folder paths, or exactly one https URL of a signed bundle. */
  routes: string[];
  /** The JWKS file a remote bundle's signature must verify with. */
  bundleKeys?: string;
  /** How long the last good bundle may serve when the source cannot be had. */
  maxStaleMs: number;
}

export type Durability = 'fsync' | 'none';
export type GateMode = 'enforce' | 'report';

/** The validated `egress-gate.yaml` (SPEC §3), paths made absolute, durations in ms, sizes in bytes. */
export interface GateConfig {
  /** Absolute path of the config file, or a description of the development default. */
  source: string;
  /** Directory relative paths were resolved against. */
  baseDir: string;
  /** base64url SHA-256 of the config file's bytes. */
  digest: string;
  gate: {
    id: string;
    subject?: string;
    listen: HostPort;
    admin: HostPort;
    /** The bearer token of the admin console (absolute path); required when `admin` is not loopback. */
    adminTokenFile?: string;
    allowRemoteClients: boolean;
    mode: GateMode;
  };
  policy: RouteMapSettings;
  permits: {
    header: string;
    issuers: IssuerConfig[];
    clockSkewS: number;
    maxTtlS: number;
    /** "memory" or a redis:// URL. */
    replay: string;
    /** Where an agent asks for a permit (the arbiter's /v1/permits), named in denials (SPEC §7). */
    requestUrl?: string;
  };
  secrets: { dir?: string };
  decider?: { url: string; timeoutMs: number };
  receipts: {
    dir: string;
    key: string;
    durability: Durability;
    rotateBytes: number;
    /** The checkpoint origin and note key name of the log (SPEC §9); default `egress-gate/<gate.id>`. */
    origin: string;
  };
  tls: { caCert?: string; caKey?: string; upstreamCa: string[] };
  network: {
    blockPrivate: boolean;
    allowCidrs: string[];
    hosts: Record<string, string>;
  };
  limits: {
    maxBoundBody: number;
    headerTimeoutMs: number;
    upstreamTimeoutMs: number;
  };
}

export type Authorize = 'permit' | 'online' | 'permit+online' | 'none' | 'deny';
export type OnSilence = 'terminate' | 'pause';

/** One route of a route map, validated (SPEC §4). */
export interface Route {
  surface: string;
  action: string;
  match: {
    scheme?: 'http' | 'https';
    /** Lowercased, no trailing dot; "*.example.com" for a one-label wildcard. */
    host: string;
    /** undefined: the default port of the route's (or the request's) scheme; "*" any. */
    ports?: number[] | '*';
    /** Uppercased methods, or "*" for any. */
    methods: string[] | '*';
    /** The path pattern as written (default "/**"). */
    path: string;
    /** The body must be one JSON-RPC 2.0 request of this method (and tool); such a route matches POST only. */
    jsonrpc?: JsonRpcMatch;
  };
  authorize: Authorize;
  singleUse: boolean;
  bindBody: boolean;
  bindQuery: boolean;
  credentials?: { header: string; value: string; secret?: string };
  mode?: GateMode;
  mustEnforce: boolean;
  onSilence: OnSilence;
  pauseMaxMs: number;
  tunnel: boolean;
  where: SourcePos;
}

/**
 * A route's `match.jsonrpc` (SPEC §4): the JSON-RPC method, or "*" for any; `tool` (only with
 * method `tools/call`) the `params.name` it must have. `tool: "*"` is stored as no tool.
 */
export interface JsonRpcMatch {
  method: string | '*';
  tool?: string;
}

/** What the gate read from a JSON-RPC request body: its method and, for `tools/call`, the tool (`params.name`). */
export interface JsonRpcCall {
  method: string;
  tool?: string;
  /** A notification (no `id`): the server sends no answer. */
  notification: boolean;
}

export interface PolicyException {
  id: string;
  surface: string;
  action: string;
  reason: string;
  approvedBy: string[];
  /** ms since the epoch. */
  expires: number;
  where: SourcePos;
}

/** A request as the gate normalized it (SPEC §4); what matching, binding and forwarding use. */
export interface NormalizedRequest {
  method: string;
  scheme: 'http' | 'https';
  /** Lowercased, no trailing dot. IPv6 literals without brackets. */
  host: string;
  port: number;
  /** Normalized path, what goes upstream. */
  path: string;
  /** Query string without "?", or null when the target had none. */
  query: string | null;
  /** The binding URL (`req.htu`): scheme://host[:port]path, default port omitted, no query. */
  url: string;
  /** The host was given as an IP literal (in any spelling); host holds its canonical form. */
  hostIsIp: boolean;
}

/** Facts about a permit that may be written to a receipt (never the token). */
export interface PermitFacts {
  iss?: string;
  kid?: string;
  jti?: string;
  sha256: string;
  exp?: number;
  txn?: string;
  idk?: string;
}

/** A decision is a value. */
export interface Decision {
  decision: DecisionKind;
  reason: Reason;
  /** Human-readable, never echoes a permit or a secret. */
  detail: string;
  surface?: string;
  action?: string;
  route?: Route;
  permit?: PermitFacts;
  /** id of the policy exception that applied. */
  exception?: string;
  /** receipt id of the attempt this one retries. */
  retryOf?: string;
}

/** Route maps and exceptions compiled once at load; read-only on the request path. */
export interface CompiledPolicy {
  /** A short version id of this policy (changes whenever the digest does). */
  version: string;
  /** base64url SHA-256 over the route-map sources, in a stable order. */
  digest: string;
  routes: readonly Route[];
  exceptions: readonly PolicyException[];
  /** Warnings `check` prints (expired exceptions, …). */
  warnings: readonly string[];
  /**
   * The most specific route for the request, or undefined (ROUTE_UNMATCHED). `call` is the
   * JSON-RPC request its body holds; without it, routes with a `jsonrpc` clause never match.
   */
  match(req: NormalizedRequest, call?: JsonRpcCall): Route | undefined;
  /**
   * True when the body chooses the route: the most specific route that the request's scheme,
   * host, port, method and path fit has a `jsonrpc` clause. The gate then reads the body, and
   * refuses one that is not a JSON-RPC request; for any other request it reads nothing.
   */
  routesByBody(req: NormalizedRequest): boolean;
  /** True when some route could match a request to scheme-less host:port (decided at CONNECT). */
  canMatchAuthority(host: string, port: number): boolean;
  /** The tunnel route for a CONNECT host:port, if one matches. */
  matchTunnel(host: string, port: number): Route | undefined;
  /** The unexpired exception for surface/action at time nowMs, if any. */
  exceptionFor(surface: string, action: string, nowMs: number): PolicyException | undefined;
}
