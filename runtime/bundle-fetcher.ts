/**
 * Fetches a remote route-map bundle (SPEC §3, §5: `policy.routes` is one https URL) with
 * If-None-Match and verifies it (policy/bundle/verify-bundle.ts). Shared by the gate and the
 * arbiter. It only fetches and verifies; it never decides whether a version takes effect.
 */
import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { JSONWebKeySet } from 'jose';
import { upstreamSecureContext } from '../certs/upstream-trust.js';
import { BundleError, bundleKeys, verifyBundle, type BundleKeys } from '../policy/bundle/verify-bundle.js';

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

/** Fetches the bundle with If-None-Match and verifies it. */
export class BundleFetcher {
  private readonly agent: Dispatcher;
  private readonly keys: BundleKeys;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly o: BundleFetcherOptions) {
    if (!/^https:\/\//i.test(o.url)) throw new TypeError('a route-map bundle URL must be https');
    this.keys = bundleKeys(o.jwks);
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
      throw new BundleError('ERR_BUNDLE_UNREACHABLE', `the bundle could not be fetched (${code})`);
    }
    if (status === 304 && etag) return { kind: 'unchanged' };
    if (status !== 200) throw new BundleError('ERR_BUNDLE_HTTP', `the bundle server answered HTTP ${status}`);
    const token = body.toString('utf8').trim();
    const sha256 = createHash('sha256').update(token).digest('base64url');
    try {
      return { kind: 'bundle', text: await verifyBundle(token, this.keys), etag: newEtag, sha256 };
    } catch (e) {
      if (e instanceof BundleError) e.sha256 = sha256;
      throw e;
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
