/**
 * Which permit signature algorithms a key can serve. Only asymmetric algorithms are listed:
 * `none` and HMAC are absent, so no lookup through this table can ever yield them.
 */
import type { JWK } from 'jose';

interface KeyShape {
  kty: string;
  crv: string;
}

const SHAPES: Readonly<Record<string, KeyShape>> = {
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
};

/** True for an algorithm a permit may be signed with (asymmetric, supported). */
export function isSupportedAlgorithm(alg: string): boolean {
  return Object.hasOwn(SHAPES, alg);
}

/** True when a JWK of this kty/crv can verify (or sign) with `alg`. */
export function keyFitsAlgorithm(jwk: Pick<JWK, 'kty' | 'crv'>, alg: string): boolean {
  const shape = Object.hasOwn(SHAPES, alg) ? SHAPES[alg] : undefined;
  return shape !== undefined && jwk.kty === shape.kty && jwk.crv === shape.crv;
}

/** The algorithm `keys generate` and `permit issue` use for a key: its `alg`, else the one its curve implies. */
export function signingAlgorithmOf(jwk: Pick<JWK, 'kty' | 'crv' | 'alg'>): string {
  if (typeof jwk.alg === 'string') {
    if (!keyFitsAlgorithm(jwk, jwk.alg)) throw new TypeError(`the key's alg ${jwk.alg} does not fit a ${jwk.kty}/${jwk.crv} key`);
    return jwk.alg;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'EC' && jwk.crv === 'P-521') return 'ES512';
  throw new TypeError(`unsupported signing key: kty ${String(jwk.kty)}, crv ${String(jwk.crv)}`);
}

/** The public members of a JWK (private and symmetric material dropped). */
export function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, k: _k, oth: _oth, ...pub } = jwk;
  return pub;
}
