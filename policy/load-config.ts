/**
 * `egress-gate.yaml` (SPEC §3) to a validated, defaulted, frozen GateConfig. Unknown keys,
 * bad values and unsafe settings are problems positioned at the offending key or value;
 * all of a file's problems are reported together in one ConfigError.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { ConfigError } from './config-error.js';
import { isLoopbackHost, parseHostPort } from './config-values.js';
import { readBool, readDuration, readEnum, readSize, readString, readStringList } from './read-fields.js';
import { readRouteMapSettings, ROUTE_MAP_KEYS } from './read-route-map-settings.js';
import type { Durability, GateConfig, GateMode, HostPort, IssuerConfig } from './types.js';
import { openConfigDocument, seqItems, scalarValue, type Fields, type YamlSource } from './yaml-source.js';

/** The only signature algorithms a permit issuer may use (never `none`, never HMAC). */
export const PERMIT_ALGORITHMS = ['EdDSA', 'ES256'] as const;

const TOP_KEYS = ['gate', 'policy', 'permits', 'secrets', 'decider', 'receipts', 'tls', 'network', 'limits'] as const;

/** Reads and validates a config file. Throws ConfigError (with positions) when it is invalid. */
export async function loadConfig(file: string, opts: { hostname?: string } = {}): Promise<GateConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: abs, line: 0, col: 0, message: `cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parseConfig(text, abs, opts);
}

/**
 * Validates config text. `file` names the config in problems and is the base of relative
 * paths. Pure apart from the hostname default (passed in through `opts.hostname`).
 */
export function parseConfig(text: string, file: string, opts: { hostname?: string } = {}): GateConfig {
  const { src, root, top, section, abs, baseDir } = openConfigDocument(text, file, TOP_KEYS);

  const g = section('gate', ['id', 'subject', 'listen', 'admin', 'admin_token_file', 'allow_remote_clients', 'mode']);
  const allowRemoteClients = g ? readBool(g, 'allow_remote_clients', false) : false;
  const listen = g ? readAddress(g, 'listen', { host: '127.0.0.1', port: 3128 }) : { host: '127.0.0.1', port: 3128 };
  if (g && !allowRemoteClients && !isLoopbackHost(listen.host)) {
    g.problem('listen', `gate: "listen" binds ${listen.host}, which is not a loopback address; set allow_remote_clients: true to accept remote agents`);
  }
  const subject = g ? readString(g, 'subject') : undefined;
  const admin = g ? readAddress(g, 'admin', { host: '127.0.0.1', port: 3129 }) : { host: '127.0.0.1', port: 3129 };
  const adminTokenFile = g ? readString(g, 'admin_token_file') : undefined;
  // The console and its APIs show what agents do: off loopback, only with a bearer token.
  if (g && adminTokenFile === undefined && !isLoopbackHost(admin.host)) {
    g.problem('admin', `gate: "admin" binds ${admin.host}, which is not a loopback address; set admin_token_file (a file holding the bearer token the admin console asks for)`);
  }
  const gate: GateConfig['gate'] = {
    id: (g ? readString(g, 'id') : undefined) ?? opts.hostname ?? osHostname(),
    ...(subject !== undefined ? { subject } : {}),
    listen,
    admin,
    ...(adminTokenFile !== undefined ? { adminTokenFile: abs(adminTokenFile) } : {}),
    allowRemoteClients,
    mode: (g ? readEnum<GateMode>(g, 'mode', ['enforce', 'report'], 'enforce') : 'enforce') ?? 'enforce',
  };

  const policy = readRouteMapSettings(section('policy', ROUTE_MAP_KEYS), src, abs, top?.node ?? root);

  const pm = section('permits', ['header', 'issuers', 'clock_skew', 'max_ttl', 'replay', 'request_url']);
  const header = (pm ? readString(pm, 'header') : undefined) ?? 'Egress-Permit';
  if (pm && !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) pm.problem('header', 'permits: "header" must be an HTTP header name');
  const replay = (pm ? readString(pm, 'replay') : undefined) ?? 'memory';
  if (pm && replay !== 'memory' && !isRedisUrl(replay)) pm.problem('replay', 'permits: "replay" must be memory or a redis://host:port/db URL');
  const requestUrl = pm ? readString(pm, 'request_url') : undefined;
  if (pm && requestUrl !== undefined && (!/^https?:\/\//i.test(requestUrl) || !URL.canParse(requestUrl))) {
    pm.problem('request_url', 'permits: "request_url" must be an http or https URL');
  }
  const permits: GateConfig['permits'] = {
    ...(requestUrl !== undefined ? { requestUrl } : {}),
    header,
    issuers: pm ? readIssuers(src, pm, abs) : [],
    clockSkewS: (pm ? readDuration(pm, 'clock_skew', 5_000) : 5_000) / 1000,
    maxTtlS: (pm ? readDuration(pm, 'max_ttl', 600_000) : 600_000) / 1000,
    replay,
  };

  const sec = section('secrets', ['dir']);
  const secretsDir = sec ? readString(sec, 'dir') : undefined;

  const dec = section('decider', ['url', 'timeout']);
  let decider: GateConfig['decider'];
  if (dec) {
    const url = readString(dec, 'url', { required: true });
    if (url !== undefined && !/^https?:\/\//i.test(url)) dec.problem('url', 'decider: "url" must be an http or https URL');
    else if (url !== undefined && !URL.canParse(url)) dec.problem('url', 'decider: "url" is not a valid URL');
    decider = { url: url ?? '', timeoutMs: readDuration(dec, 'timeout', 250) };
  }

  const rc = section('receipts', ['dir', 'key', 'durability', 'rotate_bytes', 'origin']);
  const receipts: GateConfig['receipts'] = {
    dir: abs((rc ? readString(rc, 'dir') : undefined) ?? './receipts'),
    key: abs((rc ? readString(rc, 'key') : undefined) ?? './keys/receipts.private.jwk.json'),
    durability: (rc ? readEnum<Durability>(rc, 'durability', ['fsync', 'none'], 'fsync') : 'fsync') ?? 'fsync',
    rotateBytes: rc ? readSize(rc, 'rotate_bytes', 64 * 1024 ** 2) : 64 * 1024 ** 2,
    origin: (rc ? readString(rc, 'origin') : undefined) ?? `egress-gate/${gate.id}`,
  };
  // The origin names the log in every checkpoint and is the note key name: non-empty, no white
  // space, no '+' (c2sp.org/signed-note).
  if (!/^[^\s+]+$/u.test(receipts.origin)) {
    if (rc && rc.has('origin')) rc.problem('origin', 'receipts: "origin" must be a non-empty name without white space or "+" (it names the log in every checkpoint)');
    else if (g) g.problem('id', `gate: "id" ${JSON.stringify(gate.id)} cannot make the default receipts.origin (no white space or "+"); set receipts.origin`);
  }
  if (rc && receipts.rotateBytes < 4096) rc.problem('rotate_bytes', 'receipts: "rotate_bytes" must be at least 4KiB');

  const t = section('tls', ['ca_cert', 'ca_key', 'upstream_ca']);
  const caCert = t ? readString(t, 'ca_cert') : undefined;
  const caKey = t ? readString(t, 'ca_key') : undefined;
  if (t && (caCert === undefined) !== (caKey === undefined) && (t.has('ca_cert') || t.has('ca_key'))) {
    t.problem(caCert === undefined ? 'ca_key' : 'ca_cert', 'tls: "ca_cert" and "ca_key" go together: set both or neither');
  }
  const tls: GateConfig['tls'] = {
    ...(caCert !== undefined ? { caCert: abs(caCert) } : {}),
    ...(caKey !== undefined ? { caKey: abs(caKey) } : {}),
    upstreamCa: ((t ? readStringList(t, 'upstream_ca') : undefined) ?? []).map((c) => abs(c.value)),
  };

  const net = section('network', ['block_private', 'allow_cidrs', 'hosts']);
  const network: GateConfig['network'] = {
    blockPrivate: net ? readBool(net, 'block_private', true) : true,
    allowCidrs: [],
    hosts: {},
  };
  if (net) {
    for (const c of readStringList(net, 'allow_cidrs') ?? []) {
      if (isCidr(c.value)) network.allowCidrs.push(c.value.trim().toLowerCase());
      else src.problem(c.node, `network: ${JSON.stringify(c.value)} is not a CIDR such as 10.0.0.0/8 or fd00::/8`);
    }
    network.hosts = readHosts(src, net);
  }

  const lim = section('limits', ['max_bound_body', 'header_timeout', 'upstream_timeout']);
  const limits: GateConfig['limits'] = {
    // 32 MiB: the largest request LLM APIs take (Anthropic's Messages API 32 MB, OpenAI's
    // inline images ~20 MB) — a 2.2 MB prompt with one image was a 413 at 1 MiB. It is buffered
    // only for body-bound permit routes, one body per request in flight.
    maxBoundBody: lim ? readSize(lim, 'max_bound_body', DEFAULT_MAX_BOUND_BODY) : DEFAULT_MAX_BOUND_BODY,
    headerTimeoutMs: lim ? readDuration(lim, 'header_timeout', 10_000) : 10_000,
    upstreamTimeoutMs: lim ? readDuration(lim, 'upstream_timeout', 30_000) : 30_000,
  };

  src.throwIfProblems();
  const config: GateConfig = {
    source: path.resolve(file),
    baseDir,
    digest: createHash('sha256').update(text, 'utf8').digest('base64url'),
    gate,
    policy,
    permits,
    secrets: secretsDir !== undefined ? { dir: abs(secretsDir) } : {},
    ...(decider ? { decider } : {}),
    receipts,
    tls,
    network,
    limits,
  };
  return deepFreeze(config);
}

function readAddress(f: Fields, name: string, fallback: HostPort): HostPort {
  const text = readString(f, name);
  if (text === undefined) return fallback;
  const hp = parseHostPort(text);
  if (!hp) {
    f.problem(name, `${f.what}: "${name}" must be host:port, such as 127.0.0.1:3128 or [::1]:3128`);
    return fallback;
  }
  return hp;
}

function readIssuers(src: YamlSource, pm: Fields, abs: (p: string) => string): IssuerConfig[] {
  if (!pm.has('issuers') || pm.value('issuers') == null) return [];
  const items = seqItems(pm.value('issuers'));
  if (!items) {
    pm.problem('issuers', 'permits: "issuers" must be a list');
    return [];
  }
  const out: IssuerConfig[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const f = src.map(item, ['iss', 'jwks', 'algorithms'], 'permits.issuers[]', pm.at('issuers'));
    if (!f) continue;
    const iss = readString(f, 'iss', { required: true });
    if (iss !== undefined && seen.has(iss)) f.problem('iss', `permits: issuer ${JSON.stringify(iss)} is listed twice`);
    if (iss !== undefined) seen.add(iss);
    let jwks = readString(f, 'jwks', { required: true });
    if (jwks !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(jwks)) {
      if (!/^https:\/\//i.test(jwks) || !URL.canParse(jwks)) f.problem('jwks', 'permits: an issuer\'s "jwks" must be a file or an https URL');
    } else if (jwks !== undefined) jwks = abs(jwks);
    let algorithms: string[] = [...PERMIT_ALGORITHMS];
    const algs = readStringList(f, 'algorithms', { nonEmpty: true });
    if (algs) {
      algorithms = [];
      for (const a of algs) {
        if ((PERMIT_ALGORITHMS as readonly string[]).includes(a.value)) algorithms.push(a.value);
        else src.problem(a.node, `permits: algorithm ${JSON.stringify(a.value)} is not allowed (only ${PERMIT_ALGORITHMS.join(', ')}; never none or HMAC)`);
      }
    }
    if (iss !== undefined && jwks !== undefined) out.push({ iss, jwks, algorithms });
  }
  return out;
}

function readHosts(src: YamlSource, net: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  if (!net.has('hosts') || net.value('hosts') == null) return out;
  for (const e of src.entries(net.value('hosts'), 'network.hosts', net.at('hosts')) ?? []) {
    const name = e.key.toLowerCase().replace(/\.$/, '');
    const ip = scalarValue(e.value);
    if (typeof ip !== 'string' || isIP(ip) === 0) src.problem(e.value ?? e.keyNode, `network.hosts: ${JSON.stringify(name)} must map to an IP address`);
    else out[name] = ip;
  }
  return out;
}

function isRedisUrl(s: string): boolean {
  if (!/^rediss?:\/\//i.test(s) || !URL.canParse(s)) return false;
  const u = new URL(s);
  return u.hostname !== '' && /^(\/\d{0,2})?$/.test(u.pathname);
}

function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return false;
  const v = isIP(m[1] as string);
  return v !== 0 && Number(m[2]) <= (v === 4 ? 32 : 128);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** limits.max_bound_body when the config does not set it: 32 MiB (see loadConfig). */
export const DEFAULT_MAX_BOUND_BODY = 32 * 1024 ** 2;
