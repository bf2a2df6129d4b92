/**
 * The agent's side of the gate: an undici dispatcher that sends every request through the
 * gate and trusts the gate's CA for the HTTPS the gate intercepts.
 */
import { rootCertificates } from 'node:tls';
import { ProxyAgent, type Dispatcher } from 'undici';

export interface GateDispatcherOptions {
  /** The gate's listener, e.g. http://127.0.0.1:3128. */
  proxyUrl: string;
  /** The gate CA certificate (PEM), trusted in addition to the system roots. */
  caPem: string;
}

/**
 * A ProxyAgent for `fetch(url, { dispatcher })` or `request(url, { dispatcher })`. HTTPS
 * inside the CONNECT tunnel is verified against the system roots plus the gate CA.
 */
export function gateDispatcher(opts: GateDispatcherOptions): Dispatcher {
  return new ProxyAgent({ uri: opts.proxyUrl, requestTls: { ca: [...rootCertificates, opts.caPem] } });
}
