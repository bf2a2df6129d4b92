/**
 * jose's verification errors mapped to reason codes, by their stable `code`, never by
 * message text. Every code jose defines is listed; anything else (a TypeError for a key
 * that does not fit, say) means the permit could not be verified: DENY, not PERMIT.
 */
import type { Reason } from '../reasons.js';

/** The key resolver found no key: `why` says whether the gate (unavailable) or the token is at fault. */
export class KeyLookupFailed extends Error {
  override name = 'KeyLookupFailed';
  readonly code = 'ERR_KEY_LOOKUP_FAILED';
  constructor(readonly why: 'unavailable' | 'unknown-kid' | 'alg-mismatch', detail: string) {
    super(detail);
  }
}

const JOSE_CODES = [
  'ERR_JOSE_GENERIC', 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'ERR_JWT_EXPIRED', 'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED', 'ERR_JWE_DECRYPTION_FAILED', 'ERR_JWE_INVALID', 'ERR_JWS_INVALID', 'ERR_JWT_INVALID',
  'ERR_JWK_INVALID', 'ERR_JWKS_INVALID', 'ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
  'ERR_JWKS_TIMEOUT', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
] as const;
type JoseCode = (typeof JOSE_CODES)[number];

function joseCode(e: unknown): JoseCode | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return (JOSE_CODES as readonly unknown[]).includes(code) ? (code as JoseCode) : undefined;
}

/** The reason for an error thrown by compactVerify (or by the key function passed to it). */
export function mapJoseError(e: unknown): { reason: Reason; detail: string } {
  if (e instanceof KeyLookupFailed) {
    switch (e.why) {
      case 'unavailable':
        return { reason: 'KEYS_UNAVAILABLE', detail: e.message };
      case 'unknown-kid':
      case 'alg-mismatch':
        return { reason: 'PERMIT_SIGNATURE_INVALID', detail: e.message };
      default: {
        const never: never = e.why;
        return { reason: 'PERMIT_SIGNATURE_INVALID', detail: String(never) };
      }
    }
  }
  const code = joseCode(e);
  if (code === undefined) return { reason: 'PERMIT_SIGNATURE_INVALID', detail: 'the permit signature could not be verified' };
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWK_INVALID':
      return { reason: 'PERMIT_SIGNATURE_INVALID', detail: 'the permit signature does not verify' };
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return { reason: 'PERMIT_ALG_REJECTED', detail: 'the permit alg is not allowed' };
    case 'ERR_JOSE_NOT_SUPPORTED':
      // jose raises this for an unsupported alg and for an unrecognized crit extension.
      return { reason: 'PERMIT_MALFORMED', detail: 'the permit uses an unsupported JOSE feature' };
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return { reason: 'PERMIT_MALFORMED', detail: 'the permit is not a valid JWS' };
    case 'ERR_JWT_EXPIRED':
      return { reason: 'PERMIT_EXPIRED', detail: 'the permit has expired' };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claimReason((e as { claim?: unknown }).claim);
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return { reason: 'KEYS_UNAVAILABLE', detail: 'the issuer keys could not be had' };
    case 'ERR_JOSE_GENERIC':
    case 'ERR_JWE_DECRYPTION_FAILED':
    case 'ERR_JWE_INVALID':
      return { reason: 'PERMIT_SIGNATURE_INVALID', detail: 'the permit could not be verified' };
    default: {
      const never: never = code;
      return { reason: 'PERMIT_SIGNATURE_INVALID', detail: String(never) };
    }
  }
}

function claimReason(claim: unknown): { reason: Reason; detail: string } {
  switch (claim) {
    case 'aud':
      return { reason: 'PERMIT_AUDIENCE_MISMATCH', detail: 'the permit audience does not name this gate' };
    case 'sub':
      return { reason: 'PERMIT_SUBJECT_MISMATCH', detail: 'the permit subject does not match' };
    case 'iss':
      return { reason: 'PERMIT_ISSUER_UNTRUSTED', detail: 'the permit issuer is not trusted' };
    case 'nbf':
    case 'iat':
      return { reason: 'PERMIT_NOT_YET_VALID', detail: `the permit's ${claim} is in the future` };
    case 'typ':
      return { reason: 'PERMIT_TYPE_INVALID', detail: 'the permit typ is not permit+jwt' };
    default:
      return { reason: 'PERMIT_MALFORMED', detail: `the permit's ${String(claim)} claim is invalid` };
  }
}
