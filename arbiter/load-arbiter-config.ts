/**
 * `arbiter.yaml` (SPEC §12) to a validated, defaulted, frozen ArbiterConfig, in the style of
 * the gate's loader: unknown keys and bad values are problems at the offending key or value,
 * all of a file's problems reported together in one ConfigError (`file:line:col: message`).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Node } from 'yaml';
import { ConfigError } from '../policy/config-error.js';
import { isLoopbackHost, parseDuration, parseHostPort } from '../policy/config-values.js';
import { readDuration, readEnum, readSize, readString, readStringList } from '../policy/read-fields.js';
import { readRouteMapSettings, ROUTE_MAP_KEYS } from '../policy/read-route-map-settings.js';
import type { Durability } from '../policy/types.js';
import { openConfigDocument, scalarValue, seqItems, type Fields, type YamlSource } from '../policy/yaml-source.js';
import { MAX_PERMIT_TTL_S, type ApproverConfig, type ArbiterConfig, type CallerConfig, type GrantConfig } from './types.js';

const TOP_KEYS = ['arbiter', 'policy', 'callers', 'approvers', 'grants', 'decider', 'pending', 'break_glass', 'receipts'] as const;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;

/** Reads and validates an arbiter config file. Throws ConfigError (with positions). */
export async function loadArbiterConfig(file: string): Promise<ArbiterConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    throw new ConfigError([{ file: abs, line: 0, col: 0, message: `cannot read config: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  return parseArbiterConfig(text, abs);
}

function readInt(f: Fields, name: string, fallback: number, min: number, max: number): number {
  if (!f.has(name) || f.value(name) == null) return fallback;
  const v = scalarValue(f.value(name));
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    f.problem(name, `${f.what}: "${name}" must be a whole number from ${min} to ${max}`);
    return fallback;
  }
  return v;
}

function readDigest(f: Fields, name: string): string | undefined {
  const d = readString(f, name, { required: true });
  if (d !== undefined && !DIGEST.test(d)) f.problem(name, `${f.what}: "${name}" must be the base64url SHA-256 of the token (43 characters)`);
  return d;
}

function list(src: YamlSource, top: Fields | undefined, name: string): (Node | null)[] {
  if (!top?.has(name) || top.value(name) == null) return [];
  const items = seqItems(top.value(name));
  if (!items) top.problem(name, `config: "${name}" must be a list`);
  return items ?? [];
}

/** Validates config text; `file` names it in problems and is the base of relative paths. */
export function parseArbiterConfig(text: string, file: string): ArbiterConfig {
  const { src, root, top, section, abs, baseDir } = openConfigDocument(text, file, TOP_KEYS);

  const a = section('arbiter', ['iss', 'listen', 'tls', 'key', 'ttl']);
  if (!a) src.problem(top?.node ?? root, 'config: "arbiter" with "iss" and "key" is required');
  const iss = a ? readString(a, 'iss', { required: true }) : undefined;
  let listen = { host: '127.0.0.1', port: 8181 };
  const listenText = a ? readString(a, 'listen') : undefined;
  if (a && listenText !== undefined) {
    const hp = parseHostPort(listenText);
    if (!hp) a.problem('listen', 'arbiter: "listen" must be host:port, such as 127.0.0.1:8181');
    else listen = hp;
  }
  let tls: ArbiterConfig['arbiter']['tls'];
  if (a?.has('tls') && a.value('tls') != null) {
    const t = src.map(a.value('tls'), ['cert', 'key'], 'arbiter.tls', a.at('tls'));
    const cert = t ? readString(t, 'cert', { required: true }) : undefined;
    const key = t ? readString(t, 'key', { required: true }) : undefined;
    if (cert !== undefined && key !== undefined) tls = { cert: abs(cert), key: abs(key) };
  }
  if (a && !tls && !isLoopbackHost(listen.host)) a.problem('listen', `arbiter: "listen" binds ${listen.host}, which is not a loopback address; that needs "tls" (cert, key)`);
  const key = a ? readString(a, 'key', { required: true }) : undefined;
  const ttlMs = a ? readDuration(a, 'ttl', 60_000) : 60_000;
  if (a && (ttlMs < 1000 || ttlMs > MAX_PERMIT_TTL_S * 1000)) a.problem('ttl', 'arbiter: "ttl" must be from 1s to 10m');

  const policy = readRouteMapSettings(section('policy', ROUTE_MAP_KEYS), src, abs, top?.node ?? root);

  const callers: CallerConfig[] = [];
  for (const item of list(src, top, 'callers')) {
    const f = src.map(item, ['subject', 'token_sha256', 'jwt'], 'callers[]', top?.at('callers'));
    if (!f) continue;
    const subject = readString(f, 'subject', { required: true });
    if (f.has('jwt') === f.has('token_sha256')) { f.problem('subject', 'callers[]: set exactly one of "token_sha256" and "jwt"'); continue; }
    if (f.has('token_sha256')) {
      const d = readDigest(f, 'token_sha256');
      if (subject !== undefined && d !== undefined) callers.push({ kind: 'token', subject, tokenSha256: d });
      continue;
    }
    const j = src.map(f.value('jwt'), ['iss', 'jwks', 'aud'], 'callers[].jwt', f.at('jwt'));
    if (!j) continue;
    const jiss = readString(j, 'iss', { required: true });
    let jwks = readString(j, 'jwks', { required: true });
    const aud = readString(j, 'aud', { required: true });
    if (jwks !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(jwks)) {
      if (!/^https:\/\//i.test(jwks) || !URL.canParse(jwks)) j.problem('jwks', 'callers[].jwt: "jwks" must be a file or an https URL');
    } else if (jwks !== undefined) jwks = abs(jwks);
    if (subject !== undefined && jiss !== undefined && jwks !== undefined && aud !== undefined) callers.push({ kind: 'jwt', iss: jiss, jwks, aud, subject });
  }

  const approvers: ApproverConfig[] = [];
  const names = new Set<string>();
  for (const item of list(src, top, 'approvers')) {
    const f = src.map(item, ['name', 'token_sha256'], 'approvers[]', top?.at('approvers'));
    if (!f) continue;
    const name = readString(f, 'name', { required: true });
    const d = readDigest(f, 'token_sha256');
    if (name !== undefined && names.has(name)) f.problem('name', `approvers[]: ${JSON.stringify(name)} is listed twice`);
    if (name !== undefined) names.add(name);
    if (name !== undefined && d !== undefined) approvers.push({ name, tokenSha256: d });
  }

  const grants: GrantConfig[] = [];
  list(src, top, 'grants').forEach((item, i) => {
    const f = src.map(item, ['subject', 'surface', 'action', 'gates', 'approve', 'approvals', 'rate', 'ttl'], 'grants[]', top?.at('grants'));
    if (!f) return;
    const subject = readString(f, 'subject', { required: true });
    if (subject !== undefined && subject.slice(0, -1).includes('*')) f.problem('subject', 'grants[]: "subject" is exact or ends in one "*"');
    const surface = readString(f, 'surface', { required: true });
    const action = readString(f, 'action', { required: true });
    if (!f.has('gates')) f.requires('gates');
    const gates = (readStringList(f, 'gates', { allowSingle: true, nonEmpty: true }) ?? []).map((g) => g.value);
    const approve = readEnum(f, 'approve', ['auto', 'human'] as const, 'auto') ?? 'auto';
    const approvals = readInt(f, 'approvals', 1, 1, 16);
    if (approve === 'auto' && f.has('approvals')) f.problem('approvals', 'grants[]: "approvals" applies to approve: human only');
    if (approve === 'human' && approvals > approvers.length) f.problem('approvals', `grants[]: needs ${approvals} distinct approvers, but only ${approvers.length} are configured`);
    let rate: GrantConfig['rate'];
    const rateText = readString(f, 'rate');
    if (rateText !== undefined) {
      const m = /^(\d{1,9})\/(.+)$/.exec(rateText);
      const windowMs = m ? parseDuration(/^\d/.test(m[2] as string) ? (m[2] as string) : `1${m[2]}`) : undefined;
      if (!m || windowMs === undefined || Number(m[1]) < 1) f.problem('rate', 'grants[]: "rate" must be N/DURATION, such as 20/1h');
      else rate = { count: Number(m[1]), windowMs };
    }
    let ttlS: number | undefined;
    if (f.has('ttl')) {
      const ms = readDuration(f, 'ttl', 60_000);
      if (ms < 1000 || ms > ttlMs) f.problem('ttl', 'grants[]: "ttl" must be from 1s up to arbiter.ttl');
      ttlS = Math.floor(ms / 1000);
    }
    if (subject !== undefined && surface !== undefined && action !== undefined) {
      grants.push({ id: `grant-${i}`, subject, surface, action, gates, approve, approvals, ...(rate ? { rate } : {}), ...(ttlS !== undefined ? { ttlS } : {}), where: src.pos(item) });
    }
  });

  const dec = section('decider', ['url', 'timeout']);
  let decider: ArbiterConfig['decider'];
  if (dec) {
    const url = readString(dec, 'url', { required: true });
    if (url !== undefined && (!/^https?:\/\//i.test(url) || !URL.canParse(url))) dec.problem('url', 'decider: "url" must be an http or https URL');
    decider = { url: url ?? '', timeoutMs: readDuration(dec, 'timeout', 250) };
  }
  const pend = section('pending', ['max_wait']);
  const bg = section('break_glass', ['approvals', 'max_ttl']);
  const rc = section('receipts', ['dir', 'key', 'durability', 'rotate_bytes', 'origin']);
  if (!rc) src.problem(top?.node ?? root, 'config: "receipts" with "dir" and "key" is required: the arbiter logs every answer');
  const receiptsDir = rc ? readString(rc, 'dir', { required: true }) : undefined;
  const receiptsKey = rc ? readString(rc, 'key', { required: true }) : undefined;

  src.throwIfProblems();
  const config: ArbiterConfig = {
    source: path.resolve(file),
    baseDir,
    digest: createHash('sha256').update(text, 'utf8').digest('base64url'),
    arbiter: { iss: iss as string, listen, ...(tls ? { tls } : {}), key: abs(key as string), ttlS: Math.floor(ttlMs / 1000) },
    policy,
    callers,
    approvers,
    grants,
    ...(decider ? { decider } : {}),
    pending: { maxWaitMs: pend ? readDuration(pend, 'max_wait', 900_000) : 900_000 },
    breakGlass: { approvals: bg ? readInt(bg, 'approvals', 2, 1, 16) : 2, maxTtlMs: bg ? readDuration(bg, 'max_ttl', 3_600_000) : 3_600_000 },
    receipts: {
      dir: abs(receiptsDir as string),
      key: abs(receiptsKey as string),
      durability: (rc ? readEnum<Durability>(rc, 'durability', ['fsync', 'none'], 'fsync') : 'fsync') ?? 'fsync',
      rotateBytes: rc ? readSize(rc, 'rotate_bytes', 64 * 1024 ** 2) : 64 * 1024 ** 2,
      origin: (rc ? readString(rc, 'origin') : undefined) ?? `egress-arbiter/${hostOf(iss as string)}`,
    },
  };
  return deepFreeze(config);
}

function hostOf(iss: string): string {
  return URL.canParse(iss) ? new URL(iss).host : iss;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
