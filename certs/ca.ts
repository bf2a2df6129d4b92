/**
 * The gate's certificate authority: created once by `egress-gate ca init`, loaded once at
 * start, then used only to sign short-lived leaf certificates (leaf-issuer.ts).
 *
 * The private key never leaves this process except as the 0600 file written here; no
 * function in this module logs, prints or puts key material into an error message.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { randomSerial, subtle, toPem } from './pem.js';
import { writeFileAtomic } from './write-file-atomic.js';
import { loadX509 } from './x509.js';

export type CaErrorCode = 'ERR_CA_EXISTS' | 'ERR_CA_READ' | 'ERR_CA_INVALID' | 'ERR_CA_KEY_MISMATCH' | 'ERR_CA_KEY_UNSUPPORTED';

/** A CA problem with a stable `code`. Messages name files, never key contents. */
export class CaError extends Error {
  override name = 'CaError';
  constructor(readonly code: CaErrorCode, message: string) {
    super(message);
  }
}

/** A loaded CA, ready to sign. */
export interface Ca {
  /** The CA certificate, DER. */
  readonly certDer: Uint8Array<ArrayBuffer>;
  /** The CA certificate in PEM (appended to every leaf's chain). */
  readonly certPem: string;
  /** Non-extractable signing key. */
  readonly signingKey: CryptoKey;
  /** The signature algorithm leaves are signed with (matches the key's type). */
  readonly signingAlgorithm: Algorithm | EcdsaParams;
}

export interface InitCaOptions {
  /** Replace an existing ca.pem / ca-key.pem. Default false: refuse with ERR_CA_EXISTS. */
  force?: boolean;
  /** Now, in ms since the epoch (a seam for tests). */
  clock?: () => number;
  /** Used in the subject; default os.hostname(). */
  hostname?: string;
}

const CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
/** Tolerates clients whose clocks run a little behind the gate's. */
const CA_BACKDATE_MS = 5 * 60 * 1000;
const P256: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/**
 * Creates a new ECDSA P-256 self-signed CA in `outDir` (created if missing): `ca.pem` and
 * `ca-key.pem` (PKCS#8, mode 0600). Refuses (ERR_CA_EXISTS) when either file exists, unless
 * `force`. Each file is written to a temporary name and renamed, so a crash never leaves a
 * half-written key under the real name.
 */
export async function initCa(outDir: string, opts: InitCaOptions = {}): Promise<{ certPath: string; keyPath: string }> {
  const certPath = path.join(outDir, 'ca.pem');
  const keyPath = path.join(outDir, 'ca-key.pem');
  if (!opts.force) {
    for (const p of [keyPath, certPath]) {
      if (await exists(p)) throw new CaError('ERR_CA_EXISTS', `${p} already exists; refusing to replace a CA (use --force)`);
    }
  }
  const now = (opts.clock ?? Date.now)();
  const x509 = await loadX509();
  const keys = (await subtle.generateKey(P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const day = new Date(now).toISOString().slice(0, 10);
  const host = (opts.hostname ?? hostname()).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 30);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: ['egress-gate'] }, { CN: [`egress-gate CA ${host} ${day}`] }],
    notBefore: new Date(now - CA_BACKDATE_MS),
    notAfter: new Date(now + CA_VALIDITY_MS),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = toPem(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  await mkdir(outDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyPath, keyPem, 0o600);
  await writeFileAtomic(certPath, cert.toString('pem') + '\n', 0o644);
  return { certPath, keyPath };
}

/**
 * Reads a CA certificate and its private key (any PEM form OpenSSL writes: PKCS#8, SEC1
 * or PKCS#1; EC P-256/P-384/P-521 or RSA) and imports the key once, non-extractable.
 * Refuses a certificate that is not a CA or a key that does not match it.
 */
export async function loadCa(certPath: string, keyPath: string): Promise<Ca> {
  const certPem = await readText(certPath);
  const keyPem = await readText(keyPath);
  let nodeCert: X509Certificate;
  try {
    nodeCert = new X509Certificate(certPem);
  } catch {
    throw new CaError('ERR_CA_INVALID', `${certPath}: not a PEM certificate`);
  }
  if (!nodeCert.ca) throw new CaError('ERR_CA_INVALID', `${certPath}: not a CA certificate (basicConstraints CA:TRUE missing)`);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(keyPem);
  } catch {
    // The parser's message could quote the input; the key file's contents are never echoed.
    throw new CaError('ERR_CA_INVALID', `${keyPath}: not a PEM private key`);
  }
  if (!nodeCert.checkPrivateKey(keyObject)) {
    throw new CaError('ERR_CA_KEY_MISMATCH', `${keyPath} does not match the certificate in ${certPath}`);
  }
  const { importAlg, signingAlgorithm } = algorithmsFor(keyObject, keyPath);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const signingKey = await subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
  return { certDer: Uint8Array.from(nodeCert.raw), certPem: toPem(nodeCert.raw, 'CERTIFICATE'), signingKey, signingAlgorithm };
}

function algorithmsFor(key: KeyObject, keyPath: string): { importAlg: EcKeyImportParams | RsaHashedImportParams; signingAlgorithm: Algorithm | EcdsaParams } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[details.namedCurve ?? ''];
    if (!curve) throw new CaError('ERR_CA_KEY_UNSUPPORTED', `${keyPath}: EC curve ${details.namedCurve ?? '?'} is not supported (P-256, P-384, P-521)`);
    const hash = curve === 'P-256' ? 'SHA-256' : curve === 'P-384' ? 'SHA-384' : 'SHA-512';
    return { importAlg: { name: 'ECDSA', namedCurve: curve }, signingAlgorithm: { name: 'ECDSA', hash } as EcdsaParams };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return { importAlg: alg, signingAlgorithm: alg };
  }
  throw new CaError('ERR_CA_KEY_UNSUPPORTED', `${keyPath}: ${key.asymmetricKeyType ?? 'unknown'} keys are not supported (EC or RSA)`);
}

async function readText(p: string): Promise<string> {
  try {
    return await readFile(p, 'utf8');
  } catch (e) {
    throw new CaError('ERR_CA_READ', `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
