/**
 * Leaf certificates for intercepted hosts, minted on demand and signed by the gate CA.
 *
 * One P-256 key serves every leaf (generated once per issuer, kept in memory only): a
 * fresh key per host would cost a key generation per mint and protect nothing, since the
 * CA key that vouches for all of them lives in the same process.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Ca } from './ca.js';
import { randomSerial, subtle, toPem } from './pem.js';
import { loadX509, type X509 } from './x509.js';

export interface LeafIssuerOptions {
  /** Most secure contexts kept; the least recently used is dropped beyond it. Default 1000. */
  maxEntries?: number;
  /** Lifetime of a leaf from its issue time. Default 24. */
  validityHours?: number;
  /** Now, in ms since the epoch. Default Date.now. */
  clock?: () => number;
  /**
   * New mints admitted per second (a token bucket refilled continuously; a cached host costs
   * nothing). Default 20: a mint is ~7 ms of CPU, so a flood of random hosts takes at most
   * ~15 % of one core, while an agent reaching a few dozen new hosts at once is not slowed.
   */
  mintsPerSecond?: number;
  /** Tokens the bucket holds: a burst of new hosts admitted at once. Default 40. */
  mintBurst?: number;
}

export interface LeafIssuer {
  /**
   * A TLS server context whose certificate names `host` (a DNS SAN, or an IP SAN for an
   * IPv4/IPv6 literal, brackets allowed) with chain leaf + CA. Cached; concurrent first
   * calls for one host share one mint. Throws LeafError ERR_LEAF_HOST_INVALID for a host
   * that is neither a DNS name nor an IP literal.
   */
  secureContextFor(host: string): Promise<tls.SecureContext>;
  /** PEM of the current leaf for `host` (same cache), for inspection and tests. */
  certificateFor(host: string): Promise<string>;
  /**
   * Whether a CONNECT for `host` may be intercepted now: true for a cached host (and for a host
   * no leaf can be issued for: that fails where it is minted), else true only while the mint
   * rate limit has a token, which this call takes. The caller refuses the CONNECT on false.
   */
  admit(host: string): boolean;
  /** Number of cached hosts. */
  readonly size: number;
}

/** A leaf certificate cannot be issued for this host. */
export class LeafError extends Error {
  override name = 'LeafError';
  constructor(readonly code: 'ERR_LEAF_HOST_INVALID', message: string) {
    super(message);
  }
}

interface Entry {
  promise: Promise<{ context: tls.SecureContext; certPem: string }>;
  /** After this instant the entry is re-minted; half the validity keeps a margin for skewed clients. */
  renewAt: number;
}

/** Backdating covers clients whose clocks run behind the gate's. */
const BACKDATE_MS = 3600 * 1000;
/** A DNS name as it may appear in a dNSName SAN: LDH labels (underscore tolerated), no wildcard. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** Lowercases, drops one trailing dot and IPv6 brackets: the form hosts are compared in. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** Creates a leaf issuer over a loaded CA. Nothing is minted until the first request. */
export function createLeafIssuer(ca: Ca, opts: LeafIssuerOptions = {}): LeafIssuer {
  const maxEntries = opts.maxEntries ?? 1000;
  const validityMs = (opts.validityHours ?? 24) * 3600 * 1000;
  const clock = opts.clock ?? Date.now;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries must be a positive integer');
  if (!(validityMs > 0)) throw new TypeError('validityHours must be positive');
  const rate = opts.mintsPerSecond ?? 20;
  const burst = opts.mintBurst ?? 40;
  if (!(rate > 0) || !(burst >= 1)) throw new TypeError('mintsPerSecond must be positive and mintBurst at least 1');
  let tokens = burst;
  let refilledAt = clock();

  // Map iteration order is insertion order: re-inserting on every hit makes the first key
  // the least recently used one.
  const cache = new Map<string, Entry>();
  let leafKeys: Promise<{ keys: CryptoKeyPair; keyPem: string }> | undefined;

  const keyPair = (): Promise<{ keys: CryptoKeyPair; keyPem: string }> => {
    leafKeys ??= (async () => {
      const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
      return { keys, keyPem: toPem(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY') };
    })();
    leafKeys.catch(() => { leafKeys = undefined; });
    return leafKeys;
  };

  // @peculiar/x509 and the parsed CA certificate, on the first mint only.
  let issuerOf: Promise<{ x509: X509; caCert: InstanceType<X509['X509Certificate']> }> | undefined;
  const issuer = () => {
    issuerOf ??= loadX509().then((x509) => ({ x509, caCert: new x509.X509Certificate(ca.certDer) }));
    issuerOf.catch(() => { issuerOf = undefined; });
    return issuerOf;
  };

  const mint = async (host: string, now: number): Promise<{ context: tls.SecureContext; certPem: string }> => {
    const { keys, keyPem } = await keyPair();
    const { x509, caCert } = await issuer();
    const ipVersion = isIP(host);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      // A CN is limited to 64 characters; the SAN is what clients check, the CN is a label.
      subject: host.length <= 64 ? [{ O: ['egress-gate'] }, { CN: [host] }] : [{ O: ['egress-gate'] }],
      issuer: caCert.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + validityMs),
      signingAlgorithm: ca.signingAlgorithm,
      publicKey: keys.publicKey,
      signingKey: ca.signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: ipVersion ? 'ip' : 'dns', value: host }], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    const certPem = cert.toString('pem') + '\n';
    // The chain is leaf then CA: clients that trust only the CA can build the path.
    const context = tls.createSecureContext({ key: keyPem, cert: certPem + ca.certPem });
    return { context, certPem };
  };

  const entryFor = (rawHost: string): Entry['promise'] => {
    const host = normalizeHost(rawHost);
    const bracketed = rawHost.trim().startsWith('[');
    if (bracketed ? isIP(host) !== 6 : !isIP(host) && !DNS_NAME.test(host)) {
      return Promise.reject(new LeafError('ERR_LEAF_HOST_INVALID', `cannot issue a certificate for host ${JSON.stringify(rawHost.slice(0, 300))}`));
    }
    const now = clock();
    const hit = cache.get(host);
    if (hit && now < hit.renewAt) {
      cache.delete(host);
      cache.set(host, hit);
      return hit.promise;
    }
    // The promise is cached before it settles, so concurrent first calls share one mint.
    const entry: Entry = { promise: mint(host, now), renewAt: now + validityMs / 2 };
    cache.delete(host);
    cache.set(host, entry);
    while (cache.size > maxEntries) {
      const oldest = cache.keys().next().value as string;
      cache.delete(oldest);
    }
    // A failed mint is not cached: the next request tries again.
    entry.promise.catch(() => {
      if (cache.get(host) === entry) cache.delete(host);
    });
    return entry.promise;
  };

  const admit = (rawHost: string): boolean => {
    const host = normalizeHost(rawHost);
    const now = clock();
    const hit = cache.get(host);
    if (hit && now < hit.renewAt) return true;
    if (!isIP(host) && !DNS_NAME.test(host)) return true;
    tokens = Math.min(burst, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  return {
    admit,
    secureContextFor: async (host) => (await entryFor(host)).context,
    certificateFor: async (host) => (await entryFor(host)).certPem,
    get size() {
      return cache.size;
    },
  };
}
