/**
 * A route-map bundle (SPEC §3, §5): a compact JWS whose protected header has
 * `typ: routemap+jwt` and whose payload is the route-map YAML, signed with a key of
 * `policy.bundle_keys`. Pure verification, shared by the gate and the arbiter; fetching lives
 * in runtime/bundle-fetcher.ts.
 *
 * Invariant: `verifyBundle()` returns text only from a token that verified with a configured
 * key, an allowed algorithm and the bundle `typ`; everything else is a BundleError.
 */
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';

/** Algorithms a bundle may be signed with (never `none`, never HMAC). */
export const BUNDLE_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export const BUNDLE_TYP = 'routemap+jwt';

/**
 * How getting a bundle failed. `ERR_BUNDLE_UNREACHABLE` and `ERR_BUNDLE_HTTP` mean no answer
 * could be had (the source is down: staleness grows); `ERR_BUNDLE_INVALID` means an answer came
 * and was refused (bad signature, wrong typ or algorithm, not a JWS): a refused reload.
 */
export type BundleErrorCode = 'ERR_BUNDLE_UNREACHABLE' | 'ERR_BUNDLE_HTTP' | 'ERR_BUNDLE_INVALID';

/** A route-map bundle could not be fetched or does not verify. */
export class BundleError extends Error {
  /** For ERR_BUNDLE_INVALID of a fetched token: its base64url SHA-256 (to refuse it once). */
  sha256?: string;
  constructor(readonly code: BundleErrorCode, message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** The keys bundles verify with, imported once (at start). */
export type BundleKeys = ReturnType<typeof createLocalJWKSet>;

export function bundleKeys(jwks: JSONWebKeySet): BundleKeys {
  return createLocalJWKSet(jwks);
}

/** Verifies a compact JWS bundle and returns its payload as text; throws ERR_BUNDLE_INVALID. */
export async function verifyBundle(token: string, keys: BundleKeys): Promise<string> {
  let verified;
  try {
    verified = await compactVerify(token, keys, { algorithms: [...BUNDLE_ALGORITHMS] });
  } catch (e) {
    const code = (e as { code?: string }).code ?? (e as Error).name;
    throw new BundleError('ERR_BUNDLE_INVALID', `the bundle does not verify with policy.bundle_keys (${code})`);
  }
  if (verified.protectedHeader.typ !== BUNDLE_TYP) {
    throw new BundleError('ERR_BUNDLE_INVALID', `the bundle's typ is ${JSON.stringify(verified.protectedHeader.typ ?? null)}, not ${BUNDLE_TYP}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(verified.payload);
  } catch {
    throw new BundleError('ERR_BUNDLE_INVALID', 'the bundle payload is not UTF-8 text');
  }
}
