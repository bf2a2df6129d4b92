/**
 * What the gate's own TLS clients trust — origins it forwards to, WebSocket upgrades, the
 * decider, the route-map bundle server and JWKS URLs: Node's root store plus the PEM texts of
 * `tls.upstream_ca` (SPEC §3: "extra CAs"). Passing `ca` alone would replace the roots, so the
 * extras are always appended to them. Built once at start: a `ca` list given per connection
 * makes every new TLS connection parse ~140 root certificates.
 */
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';

/** Node's roots then `extra`; undefined without extras (Node's default store applies). */
export function upstreamCaList(extra: readonly string[] | undefined): string[] | undefined {
  return extra && extra.length > 0 ? [...rootCertificates, ...extra] : undefined;
}

/** {@link upstreamCaList} parsed once, for `secureContext` in tls.connect or an undici `connect`. */
export function upstreamSecureContext(extra: readonly string[] | undefined): SecureContext | undefined {
  const ca = upstreamCaList(extra);
  return ca ? createSecureContext({ ca }) : undefined;
}
