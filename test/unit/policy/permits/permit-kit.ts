/**
 * Test kit for permits: real keys (node:crypto), raw JWS signing for hostile tokens whose
 * header jose would never produce, a JWKS on disk, and normalized requests from the real
 * normalizer.
 */
import { createHmac, randomUUID, sign, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import { normalizeRequest } from '../../../../policy/normalize-request.js';
import { freshKeyObjects } from '../../../../policy/permits/generate-keys.js';
import type { NormalizedRequest } from '../../../../policy/types.js';
import { tmpDir as kitTmpDir } from '../../../kit/keys.js';

export interface TestKey {
  alg: 'EdDSA' | 'ES256';
  kid: string;
  privateKey: KeyObject;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** A fresh key pair, made as the gate makes keys (via DER: see freshKeyObjects on the Node 20 JWK export deadlock). */
export function testKey(alg: 'EdDSA' | 'ES256', kid: string): TestKey {
  const { privateKey, publicKey } = freshKeyObjects(alg);
  return {
    alg,
    kid,
    privateKey,
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
    publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
  };
}

export const b64u = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs header.payload as given: alg "none" yields an empty signature, HS256 uses `secret`. */
export function signRaw(header: Record<string, unknown>, payload: unknown, key: { privateKey?: KeyObject; secret?: Buffer }): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  const data = Buffer.from(input, 'ascii');
  let sig: Buffer;
  switch (header.alg) {
    case 'EdDSA':
      sig = sign(null, data, key.privateKey as KeyObject);
      break;
    case 'ES256':
      sig = sign('sha256', data, { key: key.privateKey as KeyObject, dsaEncoding: 'ieee-p1363' });
      break;
    case 'HS256':
      sig = createHmac('sha256', key.secret as Buffer).update(data).digest();
      break;
    default:
      sig = Buffer.alloc(0);
  }
  return `${input}.${sig.toString('base64url')}`;
}

export function tmpDir(prefix: string): string {
  return kitTmpDir(prefix);
}

/** Writes a JWKS of the keys' public halves; returns its path. */
export function writeJwks(dir: string, name: string, keys: TestKey[]): string {
  const p = path.join(dir, name);
  writeFileSync(p, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  return p;
}

/** The gate's normalized form of an absolute-form request. */
export function normalized(method: string, url: string): NormalizedRequest {
  return normalizeRequest({ method, target: url, hostHeader: new URL(url).host });
}

export const ISS = 'https://arbiter.test';
export const GATE_ID = 'gate-1';
export const SUBJECT = 'agent:billing';

/** Claims of a valid permit for POST http://api.test/v1/charges at `nowS`, with overrides (undefined deletes). */
export function claims(nowS: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const c: Record<string, unknown> = {
    iss: ISS,
    aud: GATE_ID,
    sub: SUBJECT,
    iat: nowS,
    exp: nowS + 60,
    jti: randomUUID(),
    surface: 'payments',
    action: 'charge.create',
    req: { htm: 'POST', htu: 'http://api.test/v1/charges' },
    ...over,
  };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}
