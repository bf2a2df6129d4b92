/**
 * Who is asking (SPEC §12): callers by a static bearer token (kept as its SHA-256 digest) or
 * a JWT of a configured issuer, each mapped to a permit subject; approvers by token.
 *
 * Tokens are compared as digests in constant time, and every configured digest is compared
 * (no early exit), so neither the match nor its position leaks through timing. JWTs are
 * verified with jose against the issuer's JWKS only (file, or an https URL cached by jose);
 * iss, aud and exp are required; a bad one of any kind is simply unauthenticated.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ApproverConfig, CallerConfig, JwtCaller } from './types.js';

export interface Caller {
  subject: string;
  /** Stable id of the credential: `token:<digest>` or `jwt:<iss>#<sub>`. */
  id: string;
}

export interface Approver {
  name: string;
  /** The token digest: a person who is also a caller with the same token is that caller. */
  id: string;
}

/** Algorithms accepted on caller JWTs (Kubernetes signs RS256). Never none or HMAC. */
const JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

export function tokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** The bearer credential of an Authorization header, or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** The index of the entry whose digest equals `digest`, comparing all of them in constant time. */
function findDigest(digest: string, entries: readonly { tokenSha256: string }[]): number {
  const mine = Buffer.from(digest, 'base64url');
  let found = -1;
  entries.forEach((e, i) => {
    const theirs = Buffer.from(e.tokenSha256, 'base64url');
    if (theirs.length === mine.length && timingSafeEqual(theirs, mine) && found < 0) found = i;
  });
  return found;
}

function subjectOf(template: string, claims: JWTPayload): string | undefined {
  let missing = false;
  const out = template.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const v = claims[name];
    if (typeof v !== 'string' || v === '') { missing = true; return ''; }
    return v;
  });
  return missing ? undefined : out;
}

export class Authenticator {
  private readonly tokens: { subject: string; tokenSha256: string }[];
  private readonly jwt: { cfg: JwtCaller; keys?: JWTVerifyGetKey }[];

  constructor(callers: readonly CallerConfig[], private readonly approvers: readonly ApproverConfig[]) {
    this.tokens = callers.flatMap((c) => (c.kind === 'token' ? [c] : []));
    this.jwt = callers.flatMap((c) => (c.kind === 'jwt' ? [{ cfg: c }] : []));
  }

  /** Reads the JWKS files and prepares the https ones (fetched on first use). Throws for an unreadable file. */
  async init(): Promise<void> {
    for (const j of this.jwt) {
      if (/^https:\/\//i.test(j.cfg.jwks)) j.keys = createRemoteJWKSet(new URL(j.cfg.jwks), { cooldownDuration: 10_000, timeoutDuration: 5000 });
      else j.keys = createLocalJWKSet(JSON.parse(await readFile(j.cfg.jwks, 'utf8')));
    }
  }

  /** The caller of a request, or undefined (UNAUTHENTICATED). */
  async caller(authorization: string | undefined): Promise<Caller | undefined> {
    const token = bearerOf(authorization);
    if (token === undefined) return undefined;
    const digest = tokenDigest(token);
    const i = findDigest(digest, this.tokens);
    if (i >= 0) return { subject: (this.tokens[i] as { subject: string }).subject, id: `token:${digest}` };
    if (token.split('.').length !== 3 || this.jwt.length === 0) return undefined;
    let iss: string | undefined;
    try { iss = decodeJwt(token).iss; } catch { return undefined; }
    for (const j of this.jwt) {
      if (j.cfg.iss !== iss || !j.keys) continue;
      try {
        const { payload } = await jwtVerify(token, j.keys, { issuer: j.cfg.iss, audience: j.cfg.aud, algorithms: JWT_ALGORITHMS, requiredClaims: ['exp', 'sub'] });
        const subject = subjectOf(j.cfg.subject, payload);
        if (subject !== undefined) return { subject, id: `jwt:${j.cfg.iss}#${payload.sub}` };
      } catch { /* another caller entry of the same issuer may fit (another audience) */ }
    }
    return undefined;
  }

  /** The approver of a request, or undefined. */
  approver(authorization: string | undefined): Approver | undefined {
    const token = bearerOf(authorization);
    if (token === undefined) return undefined;
    const digest = tokenDigest(token);
    const i = findDigest(digest, this.approvers);
    return i < 0 ? undefined : { name: (this.approvers[i] as ApproverConfig).name, id: `token:${digest}` };
  }
}
