/**
 * Signing key generation for issuers and receipts (`keys generate`, the development default).
 */
import { generateKeyPairSync, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';

export type KeyAlgorithm = 'EdDSA' | 'ES256';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['EdDSA', 'ES256'];

export interface GeneratedKey {
  kid: string;
  alg: KeyAlgorithm;
  privateJwk: JWK;
  publicJwk: JWK;
}

/**
 * A new key pair, re-imported from its DER form (the test kits make their keys here too).
 * Exporting a JWK straight from the KeyObjects generateKeyPairSync returns can deadlock Node 20
 * (the export holds the key's mutex while allocating; a GC then runs the keygen job's
 * destructor, which takes the same mutex).
 */
export function freshKeyObjects(alg: KeyAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'der' } as const;
  const der: { publicKey: Buffer; privateKey: Buffer } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding })
      : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding });
  return {
    privateKey: createPrivateKey({ key: der.privateKey, format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: der.publicKey, format: 'der', type: 'spki' }),
  };
}

/** A new key pair as JWKs carrying kid, alg and use "sig". kid defaults to the RFC 7638 thumbprint. */
export async function generateKey(opts: { alg?: KeyAlgorithm; kid?: string } = {}): Promise<GeneratedKey> {
  const alg = opts.alg ?? 'EdDSA';
  if (!KEY_ALGORITHMS.includes(alg)) throw new TypeError(`unsupported alg ${String(alg)}`);
  const { privateKey, publicKey } = freshKeyObjects(alg);
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = opts.kid ?? (await calculateJwkThumbprint(pub, 'sha256'));
  return {
    kid,
    alg,
    privateJwk: { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
    publicJwk: { ...pub, kid, alg, use: 'sig' },
  };
}

/**
 * Writes `private.jwk.json` (mode 0600) and `jwks.json` (the public key as a JWKS) into `dir`,
 * creating it. Refuses to overwrite an existing private key (the write is exclusive) unless `force`.
 */
export async function generateKeyFiles(
  dir: string,
  opts: { alg?: KeyAlgorithm; kid?: string; force?: boolean } = {},
): Promise<GeneratedKey & { privatePath: string; jwksPath: string }> {
  const key = await generateKey(opts);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privatePath = path.join(dir, 'private.jwk.json');
  const jwksPath = path.join(dir, 'jwks.json');
  await writeFile(privatePath, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
  // The mode given to open() is reduced by the umask, never widened; chmod states it exactly.
  await chmod(privatePath, 0o600);
  await writeFile(jwksPath, `${JSON.stringify({ keys: [key.publicJwk] }, null, 2)}\n`);
  return { ...key, privatePath, jwksPath };
}
