/**
 * The admin listener (SPEC §10): health, readiness, metrics, the receipt public keys and the
 * signed head of the receipt log. It is a separate listener; the proxy never routes to it.
 */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  [part: string]: unknown;
}

export interface AdminDeps {
  readiness: () => Readiness;
  registry: Registry;
  jwks: () => { keys: object[] };
  head: () => string | undefined;
  /** The gate CA certificate (public), for `egress-gate doctor` and agent set-up; absent without tls.ca_cert. */
  caPem?: string | undefined;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function createAdminServer(deps: AdminDeps): http.Server {
  return http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
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
      case '/receipts/head': {
        const h = deps.head();
        if (!h) return json(res, 404, { error: 'the receipt log is empty' });
        res.writeHead(200, { 'content-type': 'application/jwt', 'cache-control': 'no-store' });
        res.end(h);
        return;
      }
      case '/ca.pem':
        if (!deps.caPem) return json(res, 404, { error: 'no gate CA is configured (tls.ca_cert)' });
        res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': Buffer.byteLength(deps.caPem), 'cache-control': 'no-store' });
        res.end(deps.caPem);
        return;
      default:
        return json(res, 404, { error: 'not found' });
    }
  });
}
