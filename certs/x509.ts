/**
 * The one place @peculiar/x509 is loaded, and only when a certificate is minted (`ca init`,
 * the first intercepted CONNECT): import it with `await loadX509()`. `reflect-metadata` must be
 * evaluated before the library (its ASN.1 schemas use decorator metadata), and the library
 * must be pointed at Node's WebCrypto once; loading through here keeps both true.
 */
import { webcrypto } from './pem.js';

export type X509 = typeof import('@peculiar/x509');

let loaded: Promise<X509> | undefined;

/** Loads @peculiar/x509 (and its reflect-metadata) on first use: only minting certificates needs it. */
export function loadX509(): Promise<X509> {
  loaded ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Crypto);
    return x509;
  })();
  return loaded;
}
