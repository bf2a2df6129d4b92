/**
 * The permit check (SPEC §5): one compact JWS in, a PermitCheck value out. The order of the
 * checks fixes which reason a permit with several defects gets: encoding, header, issuer,
 * signature, then claims. Claims are only judged after the signature verified, so nothing an
 * unsigned token says decides more than which configured issuer's keys are consulted.
 */
import { compactVerify } from 'jose';
import type { Reason } from '../reasons.js';
import type { GateConfig, NormalizedRequest, PermitFacts, Route } from '../types.js';
import { sha256Base64url } from './bind-request.js';
import { decodePermit, type DecodedPermit } from './decode-permit.js';
import type { IssuerKeyResolver } from './issuer-keys.js';
import { mapJoseError, KeyLookupFailed } from './map-jose-error.js';

/** The verified claims of a permit. */
export type PermitClaims = Record<string, unknown> & { jti: string; exp: number; idk?: string; txn?: string; sub?: string };

export type PermitCheck =
  | { ok: true; claims: PermitClaims; facts: PermitFacts }
  | { ok: false; reason: Reason; detail: string; facts?: PermitFacts };

export interface PermitCheckInput {
  token: string | undefined;
  route: Route;
  request: NormalizedRequest;
  /** base64url SHA-256 of the body; given when route.bindBody. */
  bodySha256?: string;
}

export interface PermitChecker {
  check(input: PermitCheckInput): Promise<PermitCheck>;
}

export interface PermitCheckerOptions {
  config: GateConfig['permits'] & { gateId: string; subject?: string };
  keys: IssuerKeyResolver;
  /** ms since the epoch. */
  clock?: () => number;
}

/** The largest `Egress-Permit` accepted, in bytes. */
export const MAX_PERMIT_BYTES = 8192;
export const MAX_JTI_CHARS = 128;
const PERMIT_TYP = 'permit+jwt';

type Fail = Extract<PermitCheck, { ok: false }>;

function fail(reason: Reason, detail: string, facts?: PermitFacts): Fail {
  return facts ? { ok: false, reason, detail, facts } : { ok: false, reason, detail };
}

/** RFC 7515 §4.1.9: "application/" may be omitted from typ, and media types compare case-insensitively. */
function typOk(typ: unknown): boolean {
  return typeof typ === 'string' && typ.toLowerCase().replace(/^application\//, '') === PERMIT_TYP;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** Creates the checker. Keys were imported by the resolver's init(); nothing is imported per request. */
export function createPermitChecker(opts: PermitCheckerOptions): PermitChecker {
  const { config, keys } = opts;
  const clock = opts.clock ?? Date.now;
  const skew = config.clockSkewS;

  async function check(input: PermitCheckInput): Promise<PermitCheck> {
    const { token, route, request } = input;
    if (token === undefined || token === '') return fail('PERMIT_MISSING', 'no permit was presented');
    if (Buffer.byteLength(token, 'utf8') > MAX_PERMIT_BYTES) {
      return fail('PERMIT_MALFORMED', `the permit is longer than ${MAX_PERMIT_BYTES} bytes`);
    }
    const sha256 = sha256Base64url(token);
    const decoded = decodePermit(token);
    if (!decoded.ok) return fail('PERMIT_MALFORMED', decoded.detail, { sha256 });
    const { header, claims } = decoded;
    const facts = factsOf(decoded, sha256);

    if (header.crit !== undefined) return fail('PERMIT_MALFORMED', 'the permit header has a "crit" this gate does not support', facts);
    if (!isStr(header.kid)) return fail('PERMIT_MALFORMED', 'the permit header has no "kid"', facts);
    const alg = header.alg;
    if (!isStr(alg) || !keys.anyAlgorithms.has(alg)) {
      return fail('PERMIT_ALG_REJECTED', `alg ${JSON.stringify(alg)} is not allowed`, facts);
    }
    if (!typOk(header.typ)) return fail('PERMIT_TYPE_INVALID', `typ must be "${PERMIT_TYP}", got ${JSON.stringify(header.typ ?? null)}`, facts);
    if (!isStr(claims.iss)) return fail('PERMIT_MALFORMED', 'the permit has no "iss" claim', facts);
    const algorithms = keys.algorithmsOf(claims.iss);
    if (!algorithms) return fail('PERMIT_ISSUER_UNTRUSTED', `issuer ${claims.iss} is not configured`, facts);
    if (!algorithms.includes(alg)) return fail('PERMIT_ALG_REJECTED', `alg ${alg} is not allowed for issuer ${claims.iss}`, facts);

    const signed = await verifySignature(token, claims.iss, header.kid, alg, algorithms, keys);
    if (!signed.ok) return fail(signed.reason, signed.detail, facts);
    return checkClaims(claims, input, facts, route, request);
  }

  function checkClaims(c: Record<string, unknown>, input: PermitCheckInput, facts: PermitFacts, route: Route, request: NormalizedRequest): PermitCheck {
    const aud = c.aud;
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
    if (!auds || auds.length === 0) return fail('PERMIT_MALFORMED', 'the permit has no valid "aud" claim', facts);
    if (!auds.includes(config.gateId)) return fail('PERMIT_AUDIENCE_MISMATCH', `the permit's audience does not name gate ${config.gateId}`, facts);
    if (!isStr(c.sub)) return fail('PERMIT_MALFORMED', 'the permit has no "sub" claim', facts);
    if (config.subject !== undefined && c.sub !== config.subject) {
      return fail('PERMIT_SUBJECT_MISMATCH', `the permit's subject is not ${config.subject}`, facts);
    }

    const nowS = Math.floor(clock() / 1000);
    if (!isNum(c.exp)) return fail('PERMIT_MALFORMED', 'the permit has no numeric "exp" claim', facts);
    // Valid while now < exp + skew, as jose counts it: at exp + skew the permit is expired.
    if (c.exp + skew <= nowS) return fail('PERMIT_EXPIRED', expiredDetail(c.exp, nowS, skew), facts);
    if (!isNum(c.iat)) return fail('PERMIT_MALFORMED', 'the permit has no numeric "iat" claim', facts);
    if (c.nbf !== undefined && !isNum(c.nbf)) return fail('PERMIT_MALFORMED', 'the permit\'s "nbf" claim is not a number', facts);
    if (c.iat > nowS + skew) return fail('PERMIT_NOT_YET_VALID', `the permit was issued in the future (iat ${c.iat})`, facts);
    if (isNum(c.nbf) && c.nbf > nowS + skew) return fail('PERMIT_NOT_YET_VALID', `the permit is not valid before ${c.nbf}`, facts);
    if (c.exp - c.iat > config.maxTtlS) {
      return fail('PERMIT_TTL_TOO_LONG', `the permit lives ${c.exp - c.iat}s, more than max_ttl ${config.maxTtlS}s`, facts);
    }
    if (!isStr(c.jti) || c.jti.length > MAX_JTI_CHARS) {
      return fail('PERMIT_MALFORMED', `the permit needs a "jti" of 1 to ${MAX_JTI_CHARS} characters`, facts);
    }
    for (const opt of ['idk', 'txn'] as const) {
      if (c[opt] !== undefined && typeof c[opt] !== 'string') return fail('PERMIT_MALFORMED', `the permit's "${opt}" claim is not a string`, facts);
    }

    if (!isStr(c.surface) || !isStr(c.action)) return fail('PERMIT_MALFORMED', 'the permit has no "surface" or "action" claim', facts);
    if (c.surface !== route.surface || c.action !== route.action) {
      return fail('PERMIT_SCOPE_MISMATCH', `the permit is for ${c.surface}/${c.action}, the request is ${route.surface}/${route.action}`, facts);
    }

    const req = c.req as Record<string, unknown> | undefined;
    if (req === null || typeof req !== 'object' || Array.isArray(req)) return fail('PERMIT_MALFORMED', 'the permit has no "req" claim', facts);
    if (!isStr(req.htm) || !isStr(req.htu)) return fail('PERMIT_MALFORMED', 'the permit\'s "req" has no "htm" or "htu"', facts);
    // Each detail says what the gate expected — the request's own binding, which the agent can
    // compare with what it asked its issuer for — and never echoes the permit.
    if (req.htm !== request.method) return fail('PERMIT_BINDING_MISMATCH', `the permit is bound to another method: the gate expected req.htm ${JSON.stringify(request.method)}`, facts);
    if (req.htu !== request.url) {
      return fail('PERMIT_BINDING_MISMATCH', `the permit is bound to another URL: the gate expected req.htu ${JSON.stringify(request.url)} (${request.method === 'CONNECT' ? 'host:port' : 'the normalized URL, without query'})`, facts);
    }
    if (route.bindBody) {
      // The caller hashes the body only for body-bound routes; without it nothing can be compared.
      if (input.bodySha256 === undefined) return fail('INTERNAL_ERROR', 'the body digest of a body-bound route was not computed', facts);
      const want = `the gate expected req.bdh ${JSON.stringify(input.bodySha256)} (base64url SHA-256 of the body it received)`;
      if (req.bdh === undefined) return fail('PERMIT_BINDING_MISMATCH', `the route binds the body and the permit has no "req.bdh": ${want}`, facts);
      if (req.bdh !== input.bodySha256) return fail('PERMIT_BINDING_MISMATCH', `the permit is bound to another body: ${want}`, facts);
    }
    if (route.bindQuery) {
      const qh = sha256Base64url(request.query ?? '');
      const want = `the gate expected req.qh ${JSON.stringify(qh)} (base64url SHA-256 of the query string)`;
      if (req.qh === undefined) return fail('PERMIT_BINDING_MISMATCH', `the route binds the query and the permit has no "req.qh": ${want}`, facts);
      if (req.qh !== qh) return fail('PERMIT_BINDING_MISMATCH', `the permit is bound to another query string: ${want}`, facts);
    }
    return { ok: true, claims: c as PermitClaims, facts };
  }

  return { check };
}

type Verified = { ok: true } | { ok: false; reason: Reason; detail: string };

/**
 * Verifies the signature with a key of issuer `iss` only. The key function ignores every
 * header member but kid and alg, so jku/x5u/jwk/x5c can never supply a key.
 */
async function verifySignature(token: string, iss: string, kid: string, alg: string, algorithms: readonly string[], keys: IssuerKeyResolver): Promise<Verified> {
  try {
    // The key is found by iss, kid and the alg the header names (checked against the issuer's
    // algorithms above); jose then checks the header again (alg allowed, crit) and the signature.
    const found = await keys.lookup(iss, kid, alg);
    if (!found.found) throw new KeyLookupFailed(found.why, found.detail);
    await compactVerify(token, found.key, { algorithms: [...algorithms], crit: {} });
    return { ok: true };
  } catch (e) {
    // Only a failure of the gate itself (no keys to be had) maps to SILENCE; a token jose refuses is DENY.
    return { ok: false, ...mapJoseError(e) };
  }
}

function factsOf(d: DecodedPermit, sha256: string): PermitFacts {
  const f: PermitFacts = { sha256 };
  const { header: h, claims: c } = d;
  if (typeof c.iss === 'string') f.iss = c.iss;
  if (typeof h.kid === 'string') f.kid = h.kid;
  if (typeof c.jti === 'string') f.jti = c.jti;
  if (isNum(c.exp)) f.exp = c.exp;
  if (typeof c.txn === 'string') f.txn = c.txn;
  if (typeof c.idk === 'string') f.idk = c.idk;
  return f;
}

/** `the permit expired at 2026-01-01T00:00:00Z, 5m 3s ago (clock_skew 5s allowed)`. */
export function expiredDetail(expS: number, nowS: number, skewS: number): string {
  const ago = nowS - expS;
  const parts: string[] = [];
  let rest = ago;
  for (const [unit, n] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= n) { parts.push(`${Math.floor(rest / n)}${unit}`); rest %= n; }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  const at = new Date(expS * 1000).toISOString().replace('.000Z', 'Z');
  return `the permit expired at ${at}, ${parts.join(' ')} ago (clock_skew ${skewS}s allowed)`;
}
