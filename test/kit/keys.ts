/**
 * Test kit shared by unit and integration tests: temporary folders and signing keys.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const made: string[] = [];
let sweepRegistered = false;

/**
 * A fresh directory under the OS temp dir, removed when this test process exits (each test
 * file is its own process); EGRESS_GATE_TEST_KEEP_TMP=1 keeps them to look at.
 */
export function tmpDir(prefix = 'eg-it-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  if (!sweepRegistered && process.env.EGRESS_GATE_TEST_KEEP_TMP !== '1') {
    sweepRegistered = true;
    process.once('exit', () => {
      for (const d of made) try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* a child still writing: left behind */ }
    });
  }
  return dir;
}

/** An Ed25519 or P-256 key as private/public JWKs (DER round trip: see conformance lib on a Node 20 deadlock). */
export function genKey(alg: 'EdDSA' | 'ES256' = 'EdDSA', kid = `k-${crypto.randomBytes(3).toString('hex')}`) {
  const enc = { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } } as const;
  const der = alg === 'EdDSA' ? crypto.generateKeyPairSync('ed25519', enc) : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', ...enc });
  const privateKey = crypto.createPrivateKey({ key: der.privateKey as unknown as Buffer, format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey({ key: der.publicKey as unknown as Buffer, format: 'der', type: 'spki' });
  return {
    alg, kid, privateKey, publicKey,
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

