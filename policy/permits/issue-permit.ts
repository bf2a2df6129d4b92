/**
 * Minting a permit (the SDK's issuePermit and `permit issue`): one implementation, using the
 * same request binding the gate checks against.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { bindRequest, type RequestBinding } from './bind-request.js';
import { MAX_JTI_CHARS } from './check-permit.js';
import { signingAlgorithmOf } from './jwk-algorithms.js';

export interface IssuePermitOptions {
  /** The issuer's private key: a JWK (its kid and alg are used when not given) or a KeyObject. */
  key: JWK | KeyObject;
  kid?: string;
  iss: string;
  aud: string | string[];
  sub: string;
  surface: string;
  action: string;
  /**
   * The request to bind. An authority that never sees the body (the arbiter) passes its
   * digests instead: `bodySha256` / `querySha256` are base64url SHA-256 values (SPEC §5).
   */
  request: { method: string; url: string; body?: Uint8Array | string; bodySha256?: string; querySha256?: string };
  /** Lifetime in seconds (default 60). */
  ttlS?: number;
  idk?: string;
  txn?: string;
  jti?: string;
  /** The approvers' names when people approved it (SPEC §12 `apr`). */
  apr?: string[];
  /** The break-glass grant it was issued under (SPEC §12 `bgl`). */
  bgl?: string;
  /** ms since the epoch (default Date.now). */
  clock?: () => number;
}

function isKeyObject(k: JWK | KeyObject): k is KeyObject {
  return typeof (k as KeyObject).export === 'function' && typeof (k as KeyObject).type === 'string';
}

/** A KeyObject as a private JWK; re-imported from DER first (see generate-keys.ts on the Node 20 JWK export deadlock). */
function jwkOfKeyObject(k: KeyObject): JWK {
  if (k.type !== 'private') throw new TypeError('issuePermit needs a private key');
  const der = k.export({ format: 'der', type: 'pkcs8' });
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }) as JWK;
}

/** The `req` claim: from the body and URL, or from digests the caller computed (given digests win). */
function bindingOf(r: IssuePermitOptions['request']): RequestBinding {
  const { bodySha256, querySha256, ...plain } = r;
  const req = bindRequest(plain);
  if (querySha256 !== undefined) req.qh = querySha256;
  if (bodySha256 !== undefined) req.bdh = bodySha256;
  return req;
}

/** Signs a permit for one request and returns the compact JWS. Throws TypeError for unusable options. */
export async function issuePermit(opts: IssuePermitOptions): Promise<string> {
  const jwk = isKeyObject(opts.key) ? jwkOfKeyObject(opts.key) : opts.key;
  if (typeof jwk.d !== 'string') throw new TypeError('issuePermit needs a private key (the JWK has no "d")');
  const alg = signingAlgorithmOf(jwk);
  const kid = opts.kid ?? jwk.kid;
  if (!kid) throw new TypeError('issuePermit needs a kid (the key has none)');
  const ttlS = opts.ttlS ?? 60;
  if (!Number.isInteger(ttlS) || ttlS <= 0) throw new TypeError(`ttl must be a positive number of seconds, got ${ttlS}`);
  const jti = opts.jti ?? randomUUID();
  if (jti === '' || jti.length > MAX_JTI_CHARS) throw new TypeError(`jti must have 1 to ${MAX_JTI_CHARS} characters`);
  const iat = Math.floor((opts.clock ?? Date.now)() / 1000);
  const claims: Record<string, unknown> = {
    iss: opts.iss,
    aud: opts.aud,
    sub: opts.sub,
    iat,
    exp: iat + ttlS,
    jti,
    surface: opts.surface,
    action: opts.action,
    req: bindingOf(opts.request),
  };
  if (opts.idk !== undefined) claims.idk = opts.idk;
  if (opts.txn !== undefined) claims.txn = opts.txn;
  if (opts.apr !== undefined) claims.apr = opts.apr;
  if (opts.bgl !== undefined) claims.bgl = opts.bgl;
  const { kid: _kid, alg: _alg, use: _use, key_ops: _ops, ...material } = jwk;
  const key = await importJWK({ ...material, ext: false }, alg);
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'permit+jwt', kid }).sign(key);
}
