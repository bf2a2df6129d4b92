/**
 * A remote route-map bundle (SPEC §3, §5): `policy.routes` is one https URL serving a compact
 * JWS whose protected header has `typ: routemap+jwt` and whose payload is the route-map YAML,
 * signed with a key of `policy.bundle_keys` (a JWKS file, read once at start).
 *
 * This module only fetches and verifies; it never decides whether a version takes effect.
 * Invariant: `fetch()` returns YAML text only from a token that verified with a configured
 * key, an allowed algorithm and the bundle `typ`; everything else is a BundleFetchError.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { ConfigError } from '../../policy/config-error.js';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';

/** Algorithms a bundle may be signed with (never `none`, never HMAC). */
export const BUNDLE_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export const BUNDLE_TYP = 'routemap+jwt';

/**
 * How a fetch failed. `BUNDLE_UNREACHABLE` and `BUNDLE_HTTP` mean no answer could be had (the
 * source is down: staleness grows); `BUNDLE_INVALID` means an answer came and was refused
 * (bad signature, wrong typ or algorithm, not a JWS): a refused reload.
 */
export type BundleErrorCode = 'ERR_BUNDLE_UNREACHABLE' | 'ERR_BUNDLE_HTTP' | 'ERR_BUNDLE_INVALID';

/** A route-map bundle could not be fetched or does not verify. */
export class BundleFetchError extends Error {
  /** For BUNDLE_INVALID from fetch(): base64url SHA-256 of the refused token (to refuse it once). */
  sha256?: string;
  constructor(readonly code: BundleErrorCode, message: string) {
    super(message);
    this.name = 'BundleFetchError';
  }
}

export type BundleFetch =
  | { kind: 'unchanged' }
  | { kind: 'bundle'; text: string; etag?: string; sha256: string };

export interface BundleFetcherOptions {
  url: string;
  /** The JWKS that bundle signatures must verify with. */
  jwks: JSONWebKeySet;
  /** Extra CAs trusted for the bundle server besides the system roots (`tls.upstream_ca`). */
  ca?: string[];
  timeoutMs?: number;
  /** Largest bundle accepted. */
  maxBytes?: number;
}

/** Reads `policy.bundle_keys`; an unreadable or empty JWKS is a ConfigError (start refuses). */
export async function readBundleKeys(file: string): Promise<JSONWebKeySet> {
  let jwks: unknown;
  try {
    jwks = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError([{ file, line: 0, col: 0, message: `policy.bundle_keys: cannot read the JWKS (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }]);
  }
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError([{ file, line: 0, col: 0, message: 'policy.bundle_keys: the JWKS holds no keys' }]);
  }
  return jwks as JSONWebKeySet;
}

/** Fetches the bundle with If-None-Match and verifies it. */
export class BundleFetcher {
  private readonly agent: Dispatcher;
  private readonly keys: ReturnType<typeof createLocalJWKSet>;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly o: BundleFetcherOptions) {
    if (!/^https:\/\//i.test(o.url)) throw new TypeError('a route-map bundle URL must be https');
    this.keys = createLocalJWKSet(o.jwks);
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.maxBytes = o.maxBytes ?? 8 * 1024 * 1024;
    const secureContext = upstreamSecureContext(o.ca);
    this.agent = new Agent({ connect: { timeout: this.timeoutMs, ...(secureContext ? { secureContext } : {}) } });
  }

  /** One conditional GET: `unchanged` on 304 for `etag`, else the verified YAML text. */
  async fetch(etag?: string): Promise<BundleFetch> {
    let status: number;
    let body: Buffer;
    let newEtag: string | undefined;
    try {
      const res = await request(this.o.url, {
        dispatcher: this.agent, method: 'GET',
        headers: { accept: 'application/jwt', ...(etag ? { 'if-none-match': etag } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.statusCode;
      const e = res.headers.etag;
      newEtag = typeof e === 'string' ? e : undefined;
      body = await readCapped(res.body, this.maxBytes);
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).name;
      throw new BundleFetchError('ERR_BUNDLE_UNREACHABLE', `the bundle could not be fetched (${code})`);
    }
    if (status === 304 && etag) return { kind: 'unchanged' };
    if (status !== 200) throw new BundleFetchError('ERR_BUNDLE_HTTP', `the bundle server answered HTTP ${status}`);
    const token = body.toString('utf8').trim();
    const sha256 = createHash('sha256').update(token).digest('base64url');
    try {
      return { kind: 'bundle', text: await this.verify(token), etag: newEtag, sha256 };
    } catch (e) {
      if (e instanceof BundleFetchError) e.sha256 = sha256;
      throw e;
    }
  }

  /** Verifies a compact JWS bundle and returns its payload as text. */
  async verify(token: string): Promise<string> {
    let verified;
    try {
      verified = await compactVerify(token, this.keys, { algorithms: [...BUNDLE_ALGORITHMS] });
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).name;
      throw new BundleFetchError('ERR_BUNDLE_INVALID', `the bundle does not verify with policy.bundle_keys (${code})`);
    }
    if (verified.protectedHeader.typ !== BUNDLE_TYP) {
      throw new BundleFetchError('ERR_BUNDLE_INVALID', `the bundle's typ is ${JSON.stringify(verified.protectedHeader.typ ?? null)}, not ${BUNDLE_TYP}`);
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(verified.payload);
    } catch {
      throw new BundleFetchError('ERR_BUNDLE_INVALID', 'the bundle payload is not UTF-8 text');
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw Object.assign(new Error('bundle too large'), { code: 'BUNDLE_TOO_LARGE' });
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
