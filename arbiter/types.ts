/**
 * The validated `arbiter.yaml` (SPEC §12): paths absolute, durations in ms, frozen. The YAML
 * shape is converted once into these by load-arbiter-config.ts; the request path only reads them.
 */
import type { Durability, HostPort, RouteMapSettings, SourcePos } from '../policy/types.js';

/** A caller with a static bearer token, kept only as its base64url SHA-256 digest. */
export interface TokenCaller {
  kind: 'token';
  subject: string;
  tokenSha256: string;
}

/** A caller holding a JWT of a configured issuer (a Kubernetes projected service-account token). */
export interface JwtCaller {
  kind: 'jwt';
  iss: string;
  /** Absolute path of a JWKS file, or an https URL. */
  jwks: string;
  aud: string;
  /** The permit subject; `${sub}` (or any `${claim}` holding a string) is replaced from the token. */
  subject: string;
}

export type CallerConfig = TokenCaller | JwtCaller;

export interface ApproverConfig {
  name: string;
  tokenSha256: string;
}

export interface GrantConfig {
  /** Position in the config ("grant 0", …): names the grant in receipts and rate counters. */
  id: string;
  /** Exact, or ending in `*` (a prefix). */
  subject: string;
  surface: string;
  action: string;
  /** The gates (permit audiences) it may be issued for. */
  gates: string[];
  approve: 'auto' | 'human';
  /** Distinct approvers needed (human grants). */
  approvals: number;
  rate?: { count: number; windowMs: number };
  ttlS?: number;
  where: SourcePos;
}

export interface ArbiterConfig {
  source: string;
  baseDir: string;
  digest: string;
  arbiter: {
    iss: string;
    listen: HostPort;
    tls?: { cert: string; key: string };
    /** The permit signing key (a private JWK file). */
    key: string;
    ttlS: number;
  };
  /** The gates' route maps: files and folders, or one signed bundle URL (SPEC §3, §12). */
  policy: RouteMapSettings;
  callers: CallerConfig[];
  approvers: ApproverConfig[];
  grants: GrantConfig[];
  decider?: { url: string; timeoutMs: number };
  pending: { maxWaitMs: number };
  breakGlass: { approvals: number; maxTtlMs: number };
  receipts: { dir: string; key: string; durability: Durability; rotateBytes: number; origin: string };
}

/** Longest permit lifetime the arbiter signs (SPEC §12: at most 10m). */
export const MAX_PERMIT_TTL_S = 600;
