/**
 * What is measured. Each scenario names the process under test (target), the generator, the
 * request, and which other scenarios its ratios compare against (same generator family).
 */
export type TargetKind = 'direct' | 'bare' | 'gate' | 'squid' | 'mitm';

export interface Scenario {
  id: string;
  label: string;
  kind: TargetKind;
  gen: 'wrk' | 'node';
  mode: 'http' | 'tls-keepalive' | 'tls-new';
  path: string;
  method: 'GET' | 'POST';
  bodyBytes: number;
  connections: number;
  /** Gate route action whose permits the generator mints (one per request). */
  permit?: { action: string; bindBody: boolean };
  durability?: 'fsync' | 'none';
  routes?: number;
  direct?: string;
  baseline?: string;
  peer?: boolean;
}

const get = { mode: 'http', method: 'GET', bodyBytes: 0, connections: 16 } as const;
const post = { mode: 'http', method: 'POST', bodyBytes: 1024, connections: 16, gen: 'node' } as const;

export const SCENARIOS: Scenario[] = [
  // Plain HTTP GET with wrk (absolute-URI request line through proxies).
  { ...get, id: 'direct-get', label: 'direct GET (wrk)', kind: 'direct', gen: 'wrk', path: '/none/x' },
  { ...get, id: 'bare-get', label: 'bare undici proxy GET (wrk)', kind: 'bare', gen: 'wrk', path: '/none/x', direct: 'direct-get' },
  { ...get, id: 'gate-none', label: 'gate none, fsync, 10 routes (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'fsync', routes: 10, direct: 'direct-get', baseline: 'bare-get' },
  { ...get, id: 'gate-none-nosync', label: 'gate none, receipts none (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'none', routes: 10, direct: 'direct-get', baseline: 'bare-get' },
  { ...get, id: 'gate-none-10k', label: 'gate none, fsync, 10,000 routes (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'fsync', routes: 10_000, direct: 'direct-get', baseline: 'bare-get' },
  { ...get, id: 'gate-none-c64', label: 'gate none, fsync, 64 conns (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'fsync', routes: 10, connections: 64, direct: 'direct-get', baseline: 'bare-get' },
  { ...get, id: 'squid-get', label: 'squid forward GET (wrk)', kind: 'squid', gen: 'wrk', path: '/none/x', direct: 'direct-get', baseline: 'bare-get', peer: true },
  { ...get, id: 'mitm-get', label: 'mitmproxy forward GET (wrk)', kind: 'mitm', gen: 'wrk', path: '/none/x', direct: 'direct-get', baseline: 'bare-get', peer: true },
  // Latency an agent feels: one connection, one request at a time (p50/p99 added vs direct).
  { ...get, id: 'direct-get-c1', label: 'direct GET, 1 conn (wrk)', kind: 'direct', gen: 'wrk', path: '/none/x', connections: 1 },
  { ...get, id: 'bare-get-c1', label: 'bare undici proxy GET, 1 conn (wrk)', kind: 'bare', gen: 'wrk', path: '/none/x', connections: 1, direct: 'direct-get-c1' },
  { ...get, id: 'gate-none-c1', label: 'gate none, fsync, 1 conn (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'fsync', routes: 10, connections: 1, direct: 'direct-get-c1', baseline: 'bare-get-c1' },
  { ...get, id: 'gate-none-c1-nosync', label: 'gate none, receipts none, 1 conn (wrk)', kind: 'gate', gen: 'wrk', path: '/none/x', durability: 'none', routes: 10, connections: 1, direct: 'direct-get-c1', baseline: 'bare-get-c1' },
  { ...get, id: 'direct-get-node-c1', label: 'direct GET, 1 conn (node)', kind: 'direct', gen: 'node', path: '/none/x', connections: 1 },
  { ...get, id: 'gate-permit-c1', label: 'gate permit, single-use, fsync, 1 conn (node)', kind: 'gate', gen: 'node', path: '/permit/x', permit: { action: 'permit', bindBody: false }, durability: 'fsync', routes: 10, connections: 1, direct: 'direct-get-node-c1' },
  // Plain HTTP with the Node generator (needed for fresh permits per request).
  { ...get, id: 'direct-get-node', label: 'direct GET (node)', kind: 'direct', gen: 'node', path: '/none/x' },
  { ...get, id: 'bare-get-node', label: 'bare undici proxy GET (node)', kind: 'bare', gen: 'node', path: '/none/x', direct: 'direct-get-node' },
  { ...get, id: 'gate-permit', label: 'gate permit, single-use, fsync (node)', kind: 'gate', gen: 'node', path: '/permit/x', permit: { action: 'permit', bindBody: false }, durability: 'fsync', routes: 10, direct: 'direct-get-node', baseline: 'bare-get-node' },
  { ...get, id: 'gate-permit-nosync', label: 'gate permit, single-use, receipts none (node)', kind: 'gate', gen: 'node', path: '/permit/x', permit: { action: 'permit', bindBody: false }, durability: 'none', routes: 10, direct: 'direct-get-node', baseline: 'bare-get-node' },
  // POST 1 KiB.
  { ...post, id: 'direct-post', label: 'direct POST 1 KiB (node)', kind: 'direct', path: '/bound' },
  { ...post, id: 'bare-post', label: 'bare undici proxy POST 1 KiB (node)', kind: 'bare', path: '/bound', direct: 'direct-post' },
  { ...post, id: 'gate-bound', label: 'gate bind_body permit POST 1 KiB, fsync (node)', kind: 'gate', path: '/bound', permit: { action: 'bound', bindBody: true }, durability: 'fsync', routes: 10, direct: 'direct-post', baseline: 'bare-post' },
  // HTTPS keep-alive: CONNECT once per connection, then many requests in one TLS session.
  { ...get, id: 'direct-tls-ka', label: 'direct HTTPS keep-alive (node)', kind: 'direct', gen: 'node', mode: 'tls-keepalive', path: '/none/x' },
  { ...get, id: 'gate-tls-ka', label: 'gate intercepted HTTPS keep-alive, permits (node)', kind: 'gate', gen: 'node', mode: 'tls-keepalive', path: '/permit/x', permit: { action: 'tls-permit', bindBody: false }, durability: 'fsync', routes: 10, direct: 'direct-tls-ka' },
  { ...get, id: 'squid-tunnel-ka', label: 'squid CONNECT tunnel keep-alive (node)', kind: 'squid', gen: 'node', mode: 'tls-keepalive', path: '/none/x', direct: 'direct-tls-ka', peer: true },
  { ...get, id: 'mitm-tls-ka', label: 'mitmproxy intercepted HTTPS keep-alive (node)', kind: 'mitm', gen: 'node', mode: 'tls-keepalive', path: '/none/x', direct: 'direct-tls-ka', peer: true },
  // HTTPS, a new connection and a full handshake per request.
  { ...get, id: 'direct-tls-new', label: 'direct HTTPS new conn/req (node)', kind: 'direct', gen: 'node', mode: 'tls-new', path: '/none/x' },
  { ...get, id: 'gate-tls-new', label: 'gate intercepted HTTPS new conn/req, permits (node)', kind: 'gate', gen: 'node', mode: 'tls-new', path: '/permit/x', permit: { action: 'tls-permit', bindBody: false }, durability: 'fsync', routes: 10, direct: 'direct-tls-new' },
  { ...get, id: 'squid-tunnel-new', label: 'squid CONNECT tunnel new conn/req (node)', kind: 'squid', gen: 'node', mode: 'tls-new', path: '/none/x', direct: 'direct-tls-new', peer: true },
  { ...get, id: 'mitm-tls-new', label: 'mitmproxy intercepted HTTPS new conn/req (node)', kind: 'mitm', gen: 'node', mode: 'tls-new', path: '/none/x', direct: 'direct-tls-new', peer: true },
];
