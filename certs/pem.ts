/**
 * PEM armour, serial numbers and WebCrypto for the certs/ modules — without @peculiar/x509,
 * which only minting a certificate needs (x509.ts, loaded on first use): a gate that never
 * intercepts TLS does not carry its ~15 MB.
 */
import { webcrypto } from 'node:crypto';

export { webcrypto };

/** WebCrypto's subtle API, typed as the DOM's (what @peculiar/x509 expects). */
export const subtle = webcrypto.subtle as unknown as SubtleCrypto;

/** PEM armour for DER bytes (64-column base64, trailing newline). */
export function toPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A positive, non-zero 128-bit serial number in hex (RFC 5280 §4.1.2.2: at most 20 octets). */
export function randomSerial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  // The top bit clear keeps the DER INTEGER positive; the next bit set keeps it 16 octets.
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(b).toString('hex');
}
