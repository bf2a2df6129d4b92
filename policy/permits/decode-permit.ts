/**
 * Structural decoding of a compact JWS, before any key is touched: three base64url parts,
 * a JSON-object header and a JSON-object payload. Nothing decoded here is trusted; it only
 * picks the issuer and key, and names the permit in a receipt.
 */

export type DecodedPermit = { ok: true; header: Record<string, unknown>; claims: Record<string, unknown> };

const B64URL = /^[A-Za-z0-9_-]*$/;
/** One strict decoder, made once: constructing a TextDecoder costs tens of µs, a decode() without `stream` starts fresh. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function part(s: string, what: string): { ok: true; value: Record<string, unknown> } | { ok: false; detail: string } {
  // Length 1 mod 4 is never valid base64; Buffer.from would silently drop the stray character.
  if (s === '' || !B64URL.test(s) || s.length % 4 === 1) return { ok: false, detail: `the permit's ${what} is not base64url` };
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(Buffer.from(s, 'base64url')));
  } catch {
    return { ok: false, detail: `the permit's ${what} is not JSON` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, detail: `the permit's ${what} is not a JSON object` };
  return { ok: true, value: value as Record<string, unknown> };
}

/** Decodes without verifying. `detail` names what is wrong, never the token. */
export function decodePermit(token: string): DecodedPermit | { ok: false; detail: string } {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, detail: 'the permit is not a compact JWS (three dot-separated parts)' };
  const [h, p, sig] = parts as [string, string, string];
  // An empty signature is left to the alg check (alg "none" is PERMIT_ALG_REJECTED, not malformed).
  if (!B64URL.test(sig) || sig.length % 4 === 1) return { ok: false, detail: "the permit's signature is not base64url" };
  const header = part(h, 'header');
  if (!header.ok) return header;
  const claims = part(p, 'payload');
  if (!claims.ok) return claims;
  return { ok: true, header: header.value, claims: claims.value };
}
