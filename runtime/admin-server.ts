/**
 * The admin listener (SPEC §10): health, readiness, metrics, the receipt public keys and the
 * receipt log's checkpoint, key and proofs (receipt-endpoints.ts), and on the gate's the
 * read-only console (console/). The SPEC §10 endpoints answer without a token (probes,
 * scrapers and monitors use them); the console's data needs one off loopback. It is a separate listener;
 * the proxy never routes to it.
 */
import http from 'node:http';
import type { Registry } from 'prom-client';
import { handleReceiptEndpoint, type ReceiptEndpointsSource } from './receipt-endpoints.js';

export interface Readiness {
  ready: boolean;
  [part: string]: unknown;
}

export interface AdminDeps {
  readiness: () => Readiness;
  registry: Registry;
  jwks: () => { keys: object[] };
  receipts: ReceiptEndpointsSource;
  /** The gate CA certificate (public), for `egress-gate doctor` and agent set-up; absent without tls.ca_cert. */
  caPem?: string | undefined;
  /** The admin console (console/console-handler.ts): the gate's; the arbiter serves none. */
  console?: (req: http.IncomingMessage, res: http.ServerResponse, pathname: string, query: URLSearchParams) => boolean;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** The admin listener of SPEC §10 (not listening yet). */
export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer(createAdminHandler(deps));
}

/** The admin endpoints as a request handler, for a listener that serves more (the arbiter's). */
export function createAdminHandler(deps: AdminDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const raw = req.url ?? '';
    const q = raw.indexOf('?');
    const url = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    if (deps.console?.(req, res, url, query)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    if (handleReceiptEndpoint(deps.receipts, url, query, res)) return;
    switch (url) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const r = deps.readiness();
        return json(res, r.ready ? 200 : 503, r);
      }
      case '/metrics':
        deps.registry.metrics().then(
          (text) => { res.writeHead(200, { 'content-type': deps.registry.contentType }); res.end(text); },
          (e) => json(res, 500, { error: (e as Error).message }),
        );
        return;
      case '/jwks.json':
        return json(res, 200, deps.jwks());
      case '/ca.pem':
        if (!deps.caPem) return json(res, 404, { error: 'no gate CA is configured (tls.ca_cert)' });
        res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(deps.caPem), 'cache-control': 'no-store' });
        res.end(deps.caPem);
        return;
      default:
        return json(res, 404, { error: 'not found' });
    }
  };
}
