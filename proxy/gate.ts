/**
 * The composition root: builds every part of a running gate from a validated config and
 * wires them. It contains no policy; the request path lives in handle-request/handle-connect.
 */
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { loadCa } from '../certs/ca.js';
import { createLeafIssuer, type LeafIssuer } from '../certs/leaf-issuer.js';
import type { CompiledPolicy, GateConfig } from '../policy/types.js';
import { createAdminServer } from './observe/admin-server.js';
import { refuseMalformed } from './arrivals/refuse-malformed.js';
import { DeciderClient } from './authority/decider-client.js';
import { ConnectHandler } from './arrivals/connect-handler.js';
import { UpgradeHandler } from './arrivals/upgrade-handler.js';
import { Splices } from './wire/splices.js';
import { RequestPipeline, type PipelineDeps } from './arrivals/request-handler.js';
import { createLogger, type Logger } from './observe/logger.js';
import { createMetrics, type GateMetrics } from './observe/metrics.js';
import { PauseGate } from './pipeline/authorize.js';
import { Forwarder } from './pipeline/forward.js';
import type { Arrival } from './pipeline/parse-request.js';
import { DestinationResolver, type LookupFn } from './pipeline/resolve-destination.js';
import { PolicySource } from './authority/policy-source.js';
import { createReceiptSigner } from '../receipts/receipt-codec.js';
import { ReceiptLog } from '../receipts/receipt-log.js';
import { setUpPermits, type PermitParts } from './authority/permits-setup.js';

export interface GateOptions {
  log?: Logger;
  clock?: () => number;
  version?: string;
  /** The DNS resolver for agent destinations (default: the system's); a seam for rebinding tests. */
  lookup?: LookupFn;
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
/** Requests `on_silence: pause` may hold at once; beyond it they end SILENCE at once. */
const PAUSE_MAX_HELD = 256;
/** A whole request (headers and body) must arrive within this; header_timeout cuts slow headers sooner. */
const REQUEST_TIMEOUT_MS = 5 * 60_000;

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
  // Takes the folder's lock first (a second gate on it fails here, before writing anything) and
  // holds every entry until the listeners are bound: a start that fails writes nothing.
  const receipts = await ReceiptLog.open({
    dir: config.receipts.dir, signer, durability: config.receipts.durability, rotateBytes: config.receipts.rotateBytes,
    gate: config.gate.id, origin: config.receipts.origin, clock, onFsync: (s) => metrics.fsyncDuration.observe(s), ownThread: true, hold: true,
  });
  try {
    return await startWithLog(config, opts, { log, clock, metrics, signer, receipts });
  } catch (e) {
    await receipts.abandon().catch(() => undefined);
    throw e;
  }
}

async function startWithLog(
  config: GateConfig, opts: GateOptions,
  { log, clock, metrics, signer, receipts }: { log: Logger; clock: () => number; metrics: GateMetrics; signer: ReturnType<typeof createReceiptSigner>; receipts: ReceiptLog },
): Promise<RunningGate> {

  const upstreamCa = await Promise.all(config.tls.upstreamCa.map((p) => readFile(p, 'utf8')));
  const policy = new PolicySource({
    config, clock, upstreamCa,
    onApplied: async (p: CompiledPolicy) => {
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ version: p.version, digest: p.digest }, 1);
      metrics.reloads.inc({ result: 'applied' });
      log.info({ version: p.version, digest: p.digest, routes: p.routes.length }, 'route maps in effect');
      for (const w of p.warnings) log.warn({ warning: w }, 'route-map warning');
      showReportMode(p);
      // Not awaited: until the listeners are bound the log holds it (after `start`).
      void receipts.append({ kind: 'lifecycle', event: 'policy', version: p.version, digest: p.digest }).catch((e) => log.error({ err: (e as Error).message }, 'policy receipt could not be written'));
    },
    onRefused: (error) => { metrics.reloads.inc({ result: 'refused' }); log.error({ error }, 'route-map reload refused; the last good version stays'); },
    onUnreachable: (error) => log.warn({ error, max_stale_ms: config.policy.maxStaleMs }, 'route-map bundle unreachable; the last good version serves until max_stale'),
  });
  // Report mode is shown in metrics (egress_gate_report_mode) and readiness, and warned at start.
  const reportRoutes = (p: CompiledPolicy | undefined) => (p?.routes ?? []).filter((r) => r.mode === 'report' && !r.mustEnforce);
  function showReportMode(p: CompiledPolicy): void {
    metrics.reportMode.reset();
    if (config.gate.mode === 'report') metrics.reportMode.set({ scope: 'gate', surface: '', action: '' }, 1);
    for (const r of reportRoutes(p)) {
      metrics.reportMode.set({ scope: 'route', surface: r.surface, action: r.action }, 1);
      log.warn({ surface: r.surface, action: r.action }, 'route in report mode: its decisions are recorded but NOT enforced');
    }
  }
  if (config.gate.mode === 'report') metrics.reportMode.set({ scope: 'gate', surface: '', action: '' }, 1);
  metrics.setStaleSource(() => policy.staleSeconds());
  if (!(await policy.start())) log.error({ source: config.policy.routes[0] }, 'no route maps could be loaded: every request is SILENCE POLICY_UNAVAILABLE until the bundle is fetched');
  await policy.watch();

  const permits: PermitParts = await setUpPermits(config, { clock, log, receiptsDir: config.receipts.dir });

  let leafs: LeafIssuer | undefined;
  if (config.tls.caCert && config.tls.caKey) leafs = createLeafIssuer(await loadCa(config.tls.caCert, config.tls.caKey));

  const decider = config.decider ? new DeciderClient({ url: config.decider.url, timeoutMs: config.decider.timeoutMs, ca: upstreamCa, clock }) : undefined;
  const forwarder = new Forwarder({ upstreamTimeoutMs: config.limits.upstreamTimeoutMs, upstreamCa });
  let ownPorts: number[] = [config.gate.listen.port, config.gate.admin.port];
  const deps: PipelineDeps = {
    config, gateId: config.gate.id, subject: config.gate.subject, clock, log, metrics,
    policy: () => policy.policy, receipts, resolver: new DestinationResolver(config.network, { lookup: opts.lookup, ownPorts: () => ownPorts }), forwarder,
    permits: permits.checker, replay: permits.replay, decider, pause: new PauseGate(PAUSE_MAX_HELD, 200, clock),
  };
  const pipeline = new RequestPipeline(deps);
  const arrivals = new WeakMap<object, Arrival>();
  const headersTimeout = config.limits.headerTimeoutMs;
  const serverOpts: http.ServerOptions = {
    maxHeaderSize: MAX_HEADER_BYTES, headersTimeout, requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout), keepAliveTimeout: 30_000,
    // A missing Host is refused by parseRequest (problem+json, receipt), not by Node's bare 400.
    requireHostHeader: false,
    // Node checks both timeouts on this tick (default 30 s): keep it well under header_timeout.
    connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(headersTimeout / 4))),
  };
  const proxyArrival: Arrival = { scheme: 'http' };
  const onInner = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const arrival = arrivals.get(req.socket);
    if (!arrival) { res.destroy(); return; }
    void tracked(pipeline.handle(req, res, arrival));
  };
  const inner = { https: http.createServer(serverOpts, onInner), http: http.createServer(serverOpts, onInner) };
  const splices = new Splices();
  const connect = new ConnectHandler({ ...deps, leafs, inner, arrivals, splices });
  const upgrades = new UpgradeHandler({ pipeline, resolver: deps.resolver, splices, upstreamCa, upstreamTimeoutMs: config.limits.upstreamTimeoutMs, log });
  const onInnerUpgrade = (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    const arrival = arrivals.get(req.socket);
    if (!arrival) { socket.destroy(); return; }
    void tracked(upgrades.handle(req, socket, head, arrival));
  };
  inner.https.on('upgrade', onInnerUpgrade);
  inner.http.on('upgrade', onInnerUpgrade);
  // An `Expect` other than 100-continue is an end-to-end header: the request is decided and,
  // if permitted, forwarded with it, instead of Node's bare 417 without a receipt.
  inner.https.on('checkExpectation', onInner);
  inner.http.on('checkExpectation', onInner);

  // In flight = a pipeline run not yet finished, outcome receipt included: the drain at stop
  // waits for these, so `stop` is written after every receipt of a drained request.
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const tracked = (run: Promise<void>): Promise<void> => {
    inFlight++;
    return run.finally(() => { inFlight--; if (inFlight === 0) drained?.(); });
  };
  const onProxyRequest = (req: http.IncomingMessage, res: http.ServerResponse) => { void tracked(pipeline.handle(req, res, proxyArrival)); };
  const proxy = http.createServer(serverOpts, onProxyRequest);
  proxy.on('checkExpectation', onProxyRequest);
  // Tracked: a tunnel's run ends with its outcome receipt (an intercepted CONNECT's right after the hand-off).
  proxy.on('connect', (req, socket, head) => { void tracked(connect.handle(req, socket, head)); });
  proxy.on('upgrade', (req, socket, head) => { void tracked(upgrades.handle(req, socket, head, proxyArrival)); });
  // One refusal per connection: the client's close after our answer raises a second parser
  // error (HPE_INVALID_EOF_STATE) that is not a second malformed request.
  const onClientError = refuseMalformed({ config, receipts, metrics, log });
  for (const s of [proxy, inner.https, inner.http]) {
    s.on('clientError', onClientError);
    // No count limit in Node's parser: Node 20 silently drops lines past it (a second Host or
    // permit could hide there) and Node 24 refuses with 431. The header block is bounded by
    // maxHeaderSize, and parse-request refuses more than MAX_HEADER_LINES lines with a receipt.
    s.maxHeadersCount = 0;
  }

  const admin = createAdminServer({
    registry: metrics.registry,
    jwks: () => ({ keys: [signer.publicJwk] }),
    receipts,
    readiness: () => {
      const ps = policy.status();
      const keysReady = permits.ready();
      // A refused reload does not make the gate unready while the last good version is fresh; the body names it.
      const ready = ps.fresh && keysReady && receipts.writable;
      return {
        ready, mode: config.gate.mode,
        report: { gate: config.gate.mode === 'report', routes: reportRoutes(policy.policy).map((r) => `${r.surface}/${r.action}`) },
        policy: { ...ps, ready: ps.fresh },
        keys: { ready: keysReady },
        receipts: { writable: receipts.writable },
      };
    },
  });

  await listen(proxy, config.gate.listen.host, config.gate.listen.port);
  await listen(admin, config.gate.admin.host, config.gate.admin.port);
  // The resolver refuses these as destinations, so the admin port is never reachable through the proxy.
  ownPorts = [proxy, admin].map((s) => (s.address() as import('node:net').AddressInfo).port);
  // Listeners bound: `start` (with the verifier key) is the first entry written, then what was held.
  await receipts.release({
    kind: 'lifecycle', event: 'start', version: opts.version ?? null, config_digest: config.digest, key_id: signer.kid,
    verifier_key: receipts.verifierKey, origin: receipts.origin, mode: config.gate.mode,
  });
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
        // Tunnels and WebSockets still open after the grace are ended; their outcome receipts follow at once.
        splices.closeAll();
        if (inFlight > 0) await Promise.race([new Promise<void>((r) => { drained = r; }), new Promise((r) => setTimeout(r, 1000))]);
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
