/**
 * The composition root: builds every part of a running gate from a validated config and
 * wires them. It contains no policy; the request path lives in handle-request/handle-connect.
 */
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { loadCa } from '../certs/ca.js';
import { createLeafIssuer, type LeafIssuer } from '../certs/leaf-issuer.js';
import type { CompiledPolicy, GateConfig } from '../policy/types.js';
import { createAdminServer } from './admin-server.js';
import { DeciderClient } from './decider-client.js';
import { ConnectHandler } from './handle-connect.js';
import { RequestPipeline, type PipelineDeps } from './handle-request.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type GateMetrics } from './metrics.js';
import { PauseGate } from './pipeline/authorize.js';
import { Forwarder } from './pipeline/forward.js';
import type { Arrival } from './pipeline/parse-request.js';
import { DestinationResolver } from './pipeline/resolve-destination.js';
import { PolicySource } from './policy-source.js';
import { createReceiptSigner } from './receipts/receipt-codec.js';
import { ReceiptLog } from './receipts/receipt-log.js';
import { setUpPermits, type PermitParts } from './permits-setup.js';

export interface GateOptions {
  log?: Logger;
  clock?: () => number;
  version?: string;
}

export interface RunningGate {
  config: GateConfig;
  proxy: http.Server;
  admin: http.Server;
  receipts: ReceiptLog;
  policy: PolicySource;
  metrics: GateMetrics;
  log: Logger;
  /** Reloads route maps (SIGHUP). */
  reload(): Promise<void>;
  /** Stops accepting, drains in-flight requests (up to graceMs), writes `stop`, closes. */
  stop(graceMs?: number): Promise<void>;
}

/** Largest header block accepted: a 100 KB permit must reach the permit check (PERMIT_MALFORMED), not die in the parser. */
const MAX_HEADER_BYTES = 256 * 1024;

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

export async function startGate(config: GateConfig, opts: GateOptions = {}): Promise<RunningGate> {
  const log = opts.log ?? createLogger();
  const clock = opts.clock ?? Date.now;
  const metrics = createMetrics();

  const signer = createReceiptSigner(JSON.parse(await readFile(config.receipts.key, 'utf8')));
  const receipts = await ReceiptLog.open({
    dir: config.receipts.dir, signer, durability: config.receipts.durability, rotateBytes: config.receipts.rotateBytes,
    gate: config.gate.id, clock, onFsync: (s) => metrics.fsyncDuration.observe(s),
  });
  await receipts.append({ kind: 'lifecycle', event: 'start', version: opts.version ?? null, config_digest: config.digest, key_id: signer.kid, mode: config.gate.mode });

  const policy = new PolicySource({
    config, clock,
    onApplied: async (p: CompiledPolicy) => {
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ version: p.version, digest: p.digest }, 1);
      metrics.reloads.inc({ result: 'applied' });
      log.info({ version: p.version, digest: p.digest, routes: p.routes.length }, 'route maps in effect');
      for (const w of p.warnings) log.warn({ warning: w }, 'route-map warning');
      await receipts.append({ kind: 'lifecycle', event: 'policy', version: p.version, digest: p.digest }).catch((e) => log.error({ err: (e as Error).message }, 'policy receipt could not be written'));
    },
    onRefused: (error) => { metrics.reloads.inc({ result: 'refused' }); log.error({ error }, 'route-map reload refused; the last good version stays'); },
  });
  await policy.start();
  await policy.watch();

  const permits: PermitParts = await setUpPermits(config, { clock, log, receiptsDir: config.receipts.dir });

  let leafs: LeafIssuer | undefined;
  if (config.tls.caCert && config.tls.caKey) leafs = createLeafIssuer(await loadCa(config.tls.caCert, config.tls.caKey));
  const upstreamCa = await Promise.all(config.tls.upstreamCa.map((p) => readFile(p, 'utf8')));

  const decider = config.decider ? new DeciderClient({ url: config.decider.url, timeoutMs: config.decider.timeoutMs, ca: upstreamCa, clock }) : undefined;
  const forwarder = new Forwarder({ upstreamTimeoutMs: config.limits.upstreamTimeoutMs, upstreamCa });
  const deps: PipelineDeps = {
    config, gateId: config.gate.id, subject: config.gate.subject, clock, log, metrics,
    policy: () => policy.policy, receipts, resolver: new DestinationResolver(config.network), forwarder,
    permits: permits.checker, replay: permits.replay, decider, pause: new PauseGate(256),
  };
  const pipeline = new RequestPipeline(deps);
  const arrivals = new WeakMap<object, Arrival>();
  const serverOpts: http.ServerOptions = { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 0, headersTimeout: config.limits.headerTimeoutMs, keepAliveTimeout: 30_000 };
  const proxyArrival: Arrival = { scheme: 'http' };
  const onInner = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const arrival = arrivals.get(req.socket);
    if (!arrival) { res.destroy(); return; }
    void pipeline.handle(req, res, arrival);
  };
  const inner = { https: http.createServer(serverOpts, onInner), http: http.createServer(serverOpts, onInner) };
  const connect = new ConnectHandler({ ...deps, leafs, inner, arrivals });

  let inFlight = 0;
  let drained: (() => void) | undefined;
  const track = (res: http.ServerResponse) => {
    inFlight++;
    res.once('close', () => { inFlight--; if (inFlight === 0) drained?.(); });
  };
  const proxy = http.createServer(serverOpts, (req, res) => { track(res); void pipeline.handle(req, res, proxyArrival); });
  for (const s of [inner.https, inner.http]) s.prependListener('request', (_req, res) => track(res));
  proxy.on('connect', (req, socket, head) => { void connect.handle(req, socket, head); });
  const onClientError = (err: NodeJS.ErrnoException, socket: import('node:stream').Duplex) => {
    metrics.parseErrors.inc();
    log.warn({ code: err.code }, 'malformed request refused by the HTTP parser');
    if (!socket.writable || err.code === 'ECONNRESET') { socket.destroy(); return; }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({ type: 'urn:egress-gate:reason:REQUEST_INVALID', title: 'The request is malformed', status, detail: `the HTTP parser refused the request (${err.code ?? 'error'})`, decision: 'DENY', reason: 'REQUEST_INVALID' });
    socket.end(`HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\negress-decision: DENY\r\negress-reason: REQUEST_INVALID\r\nconnection: close\r\n\r\n${body}`);
  };
  for (const s of [proxy, inner.https, inner.http]) s.on('clientError', onClientError);

  const admin = createAdminServer({
    registry: metrics.registry,
    jwks: () => ({ keys: [signer.publicJwk] }),
    head: () => (receipts.lastSeq >= 0 ? receipts.head() : undefined),
    readiness: () => {
      const ps = policy.status();
      const keysReady = permits.ready();
      const ready = ps.loaded && keysReady && receipts.writable;
      return {
        ready, mode: config.gate.mode,
        policy: { ...ps, ready: ps.loaded },
        keys: { ready: keysReady },
        receipts: { writable: receipts.writable },
      };
    },
  });

  await listen(proxy, config.gate.listen.host, config.gate.listen.port);
  await listen(admin, config.gate.admin.host, config.gate.admin.port);
  if (config.gate.mode === 'report') log.warn('gate-wide report mode: decisions are recorded but NOT enforced (receipts say enforced: false)');

  let stopping: Promise<void> | undefined;
  return {
    config, proxy, admin, receipts, policy, metrics, log,
    reload: () => policy.reload(),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        policy.close();
        proxy.close();
        proxy.closeIdleConnections();
        if (inFlight > 0) {
          await Promise.race([new Promise<void>((r) => { drained = r; }), new Promise((r) => setTimeout(r, graceMs))]);
        }
        proxy.closeAllConnections();
        try {
          await receipts.close({ kind: 'lifecycle', event: 'stop', in_flight: inFlight });
        } finally {
          admin.close();
          admin.closeAllConnections();
          await Promise.allSettled([forwarder.close(), decider?.close(), permits.close()]);
        }
      })();
      return stopping;
    },
  };
}
