/**
 * Issuer keys: the only place a permit's verification key can come from (SPEC §5). Keys are
 * found by the permit's `iss` (a configured issuer) and `kid`, never from `jku`, `x5u`, `jwk`
 * or `x5c`. JWKS files are read and imported once, at init; https JWKS are fetched at init,
 * cached, and refetched on an unknown `kid` at most once per `refetchIntervalMs` per issuer.
 * The request path only reads imported CryptoKeys.
 */
import { readFile } from 'node:fs/promises';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';
import { importJWK, type JWK } from 'jose';
import { Agent, request, type Dispatcher } from 'undici';
import type { IssuerConfig } from '../types.js';
import { isSupportedAlgorithm, keyFitsAlgorithm, publicJwk } from './jwk-algorithms.js';

/** A JWKS file that cannot be used (thrown by init, so `start` refuses). */
export class IssuerKeysError extends Error {
  override name = 'IssuerKeysError';
  readonly code = 'ERR_ISSUER_KEYS_INVALID';
}

/** kid → alg → imported public key. */
type KeySet = Map<string, Map<string, CryptoKey>>;

export type KeyLookup =
  | { found: true; key: CryptoKey }
  | { found: false; why: 'unavailable' | 'unknown-kid' | 'alg-mismatch'; detail: string };

export interface IssuerStatus {
  iss: string;
  ready: boolean;
  keys: number;
  error?: string;
}

/** What the permit checker needs from the issuer keys. */
export interface IssuerKeyResolver {
  /** The configured issuer's allowlist (supported asymmetric algorithms only), or undefined. */
  algorithmsOf(iss: string): readonly string[] | undefined;
  /** Every algorithm some configured issuer allows. */
  readonly anyAlgorithms: ReadonlySet<string>;
  lookup(iss: string, kid: string, alg: string): Promise<KeyLookup>;
  /** Keys are available for every configured issuer (for /readyz). */
  ready(): boolean;
  status(): IssuerStatus[];
  /** Loads every issuer's keys. Throws IssuerKeysError for an unusable JWKS file; a failed https fetch only leaves that issuer not ready. */
  init(): Promise<void>;
  close(): Promise<void>;
}

export interface IssuerKeysOptions {
  /** Used for https JWKS fetches; takes precedence over `ca`. */
  dispatcher?: Dispatcher;
  /** Extra trusted CA certificates (PEM texts, from `tls.upstream_ca`) for https JWKS fetches. */
  ca?: string[];
  fetchTimeoutMs?: number;
  /** Least time between two fetches of one issuer's JWKS. */
  refetchIntervalMs?: number;
  /** A fetched JWKS older than this is refreshed in the background on use. */
  maxAgeMs?: number;
  maxJwksBytes?: number;
  clock?: () => number;
  onFetchError?: (iss: string, err: Error) => void;
}

/** Imports the keys of a JWKS that fit `algorithms`. Keys without a kid cannot be selected and are skipped. */
export async function importKeySet(jwks: unknown, algorithms: readonly string[], where: string): Promise<KeySet> {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new IssuerKeysError(`${where}: not a JWKS (no "keys" array)`);
  const out: KeySet = new Map();
  for (const raw of list) {
    if (raw === null || typeof raw !== 'object') throw new IssuerKeysError(`${where}: a key is not an object`);
    const jwk = raw as JWK;
    if (typeof jwk.kid !== 'string' || jwk.kid === '') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    const fits = algorithms.filter((a) => keyFitsAlgorithm(jwk, a) && (jwk.alg === undefined || jwk.alg === a));
    for (const alg of fits) {
      let key: CryptoKey;
      try {
        key = (await importJWK({ ...publicJwk(jwk), alg, ext: false }, alg)) as CryptoKey;
      } catch (e) {
        throw new IssuerKeysError(`${where}: key ${jwk.kid} cannot be imported for ${alg}: ${(e as Error).message}`);
      }
      const byAlg = out.get(jwk.kid) ?? new Map<string, CryptoKey>();
      // Two keys under one kid and alg would make the choice of key ambiguous.
      if (byAlg.has(alg)) throw new IssuerKeysError(`${where}: kid ${jwk.kid} appears twice for ${alg}`);
      byAlg.set(alg, key);
      out.set(jwk.kid, byAlg);
    }
  }
  return out;
}

class IssuerSource {
  keys: KeySet | undefined;
  lastAttempt = Number.NEGATIVE_INFINITY;
  lastSuccess = Number.NEGATIVE_INFINITY;
  error: string | undefined;
  private inflight: Promise<void> | undefined;
  readonly remote: boolean;

  constructor(
    readonly cfg: IssuerConfig,
    readonly algorithms: readonly string[],
    private readonly fetchJwks: (url: string) => Promise<unknown>,
    private readonly now: () => number,
  ) {
    this.remote = /^https:\/\//i.test(cfg.jwks);
  }

  get usable(): boolean {
    return this.keys !== undefined && this.keys.size > 0;
  }

  async loadFile(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.cfg.jwks, 'utf8');
    } catch (e) {
      throw new IssuerKeysError(`${this.cfg.jwks}: cannot read the JWKS of ${this.cfg.iss}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new IssuerKeysError(`${this.cfg.jwks}: not JSON: ${(e as Error).message}`);
    }
    const keys = await importKeySet(doc, this.algorithms, this.cfg.jwks);
    if (keys.size === 0) throw new IssuerKeysError(`${this.cfg.jwks}: no key with a kid fits ${this.algorithms.join(', ')} for ${this.cfg.iss}`);
    this.keys = keys;
    this.lastSuccess = this.now();
  }

  /** Fetches the remote JWKS unless one was tried less than `intervalMs` ago; concurrent callers share one fetch. */
  refresh(intervalMs: number): Promise<void> {
    if (!this.remote) return Promise.resolve();
    if (this.inflight) return this.inflight;
    if (this.now() - this.lastAttempt < intervalMs) return Promise.resolve();
    this.lastAttempt = this.now();
    this.inflight = (async () => {
      try {
        const doc = await this.fetchJwks(this.cfg.jwks);
        this.keys = await importKeySet(doc, this.algorithms, this.cfg.jwks);
        this.lastSuccess = this.now();
        this.error = undefined;
      } catch (e) {
        // The last good key set keeps serving: a failed refresh must not revoke keys, and an
        // issuer that never answered has no keys, which the checker turns into SILENCE.
        this.error = (e as Error).message;
        throw e;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }
}

/** Builds the key resolver for `permits.issuers`. Call init() before use. */
export function createIssuerKeys(issuers: readonly IssuerConfig[], opts: IssuerKeysOptions = {}): IssuerKeyResolver {
  const now = opts.clock ?? Date.now;
  const fetchTimeoutMs = opts.fetchTimeoutMs ?? 5000;
  const refetchIntervalMs = opts.refetchIntervalMs ?? 10_000;
  const maxAgeMs = opts.maxAgeMs ?? 300_000;
  const maxBytes = opts.maxJwksBytes ?? 1024 * 1024;
  let owned: Agent | undefined;
  const secureContext = upstreamSecureContext(opts.ca);
  const dispatcher = opts.dispatcher ?? (secureContext ? (owned = new Agent({ connect: { secureContext } })) : undefined);
  const onFetchError = opts.onFetchError ?? (() => undefined);

  async function fetchJwks(url: string): Promise<unknown> {
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(fetchTimeoutMs),
      headersTimeout: fetchTimeoutMs,
      bodyTimeout: fetchTimeoutMs,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new Error(`${url}: JWKS larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode}`);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  }

  const sources = new Map<string, IssuerSource>();
  for (const cfg of issuers) {
    if (sources.has(cfg.iss)) throw new TypeError(`issuer ${cfg.iss} is configured twice`);
    const algorithms = cfg.algorithms.filter(isSupportedAlgorithm);
    sources.set(cfg.iss, new IssuerSource(cfg, Object.freeze(algorithms), fetchJwks, now));
  }
  const anyAlgorithms: ReadonlySet<string> = new Set([...sources.values()].flatMap((s) => s.algorithms));

  function refresh(src: IssuerSource): Promise<void> {
    return src.refresh(refetchIntervalMs).catch((e: Error) => onFetchError(src.cfg.iss, e));
  }

  return {
    anyAlgorithms,
    algorithmsOf: (iss) => sources.get(iss)?.algorithms,

    async lookup(iss, kid, alg) {
      const src = sources.get(iss);
      if (!src) return { found: false, why: 'unavailable', detail: `issuer ${iss} is not configured` };
      if (src.remote) {
        if (!src.usable) await refresh(src);
        else if (now() - src.lastSuccess > maxAgeMs) void refresh(src);
      }
      if (!src.usable) return { found: false, why: 'unavailable', detail: `no keys are available for issuer ${iss}${src.error ? ` (${src.error})` : ''}` };
      if (!src.keys?.has(kid) && src.remote) await refresh(src);
      const byAlg = src.keys?.get(kid);
      if (!byAlg) return { found: false, why: 'unknown-kid', detail: `issuer ${iss} has no key ${kid}` };
      const key = byAlg.get(alg);
      if (!key) return { found: false, why: 'alg-mismatch', detail: `key ${kid} of issuer ${iss} is not a ${alg} key` };
      return { found: true, key };
    },

    ready: () => [...sources.values()].every((s) => s.usable),

    status: () =>
      [...sources.values()].map((s) => ({
        iss: s.cfg.iss,
        ready: s.usable,
        keys: s.keys?.size ?? 0,
        ...(s.error ? { error: s.error } : {}),
      })),

    async init() {
      await Promise.all(
        [...sources.values()].map((s) => (s.remote ? s.refresh(0).catch((e: Error) => onFetchError(s.cfg.iss, e)) : s.loadFile())),
      );
    },

    async close() {
      await owned?.close();
    },
  };
}
