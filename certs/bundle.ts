/**
 * The trust bundle for agents whose TLS stack reads one file (`SSL_CERT_FILE`,
 * `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`; SPEC §11): public roots plus the gate CA.
 *
 * The public roots are Node's own `tls.rootCertificates` (the Mozilla store compiled into
 * Node), not the host's /etc/ssl file: the output then does not depend on which machine
 * runs `ca bundle` (a build container, a laptop), and they are the roots Node trusts by
 * default. Agent traffic goes through the gate, which presents leaves of
 * the gate CA; the public roots are for anything the agent reaches directly (NO_PROXY).
 */
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

/** The gate CA given to `ca bundle` is not one usable CA certificate. */
export class CaBundleError extends Error {
  override name = 'CaBundleError';
  constructor(readonly code: 'ERR_BUNDLE_CA_INVALID', message: string) {
    super(message);
  }
}

/**
 * Returns a PEM bundle: every certificate of `roots` (default `tls.rootCertificates`), then
 * the gate CA (`caPem`, which must hold exactly one CA certificate) after a `# egress-gate
 * CA: subject` comment line (PEM readers skip text outside the armour). Throws CaBundleError
 * for a bad `caPem`.
 */
export function buildBundle(caPem: string, roots: readonly string[] = tls.rootCertificates): string {
  const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length !== 1) throw new CaBundleError('ERR_BUNDLE_CA_INVALID', `expected one PEM certificate for the gate CA, found ${blocks.length}`);
  const gateCa = blocks[0] as string;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(gateCa);
  } catch {
    throw new CaBundleError('ERR_BUNDLE_CA_INVALID', 'the gate CA is not a parsable certificate');
  }
  if (!cert.ca) throw new CaBundleError('ERR_BUNDLE_CA_INVALID', 'the gate CA certificate is not a CA (basicConstraints CA:TRUE missing)');
  const parts = roots.map((pem) => `${pem.trim()}\n`);
  parts.push(`# egress-gate CA: ${oneLine(cert.subject)}\n${gateCa}\n`);
  return parts.join('\n');
}

function oneLine(subject: string): string {
  return subject.split('\n').join(', ');
}
