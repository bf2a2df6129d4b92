/**
 * The composition root: builds every part of a running gate from a validated config and wires
 * them, in the order a request meets them. It contains no policy and no request handling:
 * arrivals/ takes requests in, pipeline/ decides and records them, wire/ answers and splices,
 * authority/ holds what decisions are made with, observe/ and lifecycle/ the rest.
 */
import http from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { readFile } from 'node:fs/promises';
import { loadCa } from '../certs/ca.js';
import { createLeafIssuer } from '../certs/leaf-issuer.js';
import type { CompiledPolicy, GateConfig } from '../policy/types.js';
import { createReceiptSigner } from '../receipts/receipt-codec.js';
import { ReceiptLog } from '../receipts/receipt-log.js';
import { createAdminServer } from '../runtime/admin-server.js';
import { DeciderClient } from '../runtime/decider-client.js';
import { listen } from '../runtime/listen.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { PolicySource } from '../runtime/policy-source.js';
import { ConnectHandler } from './arrivals/connect-handler.js';
import type { H2CloseCause } from './arrivals/h2-sessions.js';
import { Interception } from './arrivals/interception.js';
import { refuseMalformed } from './arrivals/refuse-malformed.js';
import { RequestHandler } from './arrivals/request-handler.js';
import { UpgradeHandler } from './arrivals/upgrade-handler.js';
import { PauseGate } from './authority/pause-gate.js';
import { setUpPermits } from './authority/permits-setup.js';
import { ConnectionTurns } from './lifecycle/connection-turns.js';
import { InFlight } from './lifecycle/in-flight.js';
import { agentServerOptions, guardAgentServer } from './lifecycle/listeners.js';
import { readinessOf } from './lifecycle/readiness.js';
import { ConsoleAccess } from './observe/console/console-access.js';
import { createConsoleHandler } from './observe/console/console-handler.js';
import { DecisionHub } from './observe/console/decision-hub.js';
import { ConsoleAssets } from './observe/console/console-assets.js';
import { createMetrics, type GateMetrics } from './observe/metrics.js';
import { showReportMode } from './observe/report-mode.js';
import { DecisionChain } from './pipeline/decision-chain.js';
import { Forwarder } from './pipeline/forward.js';
import type { Arrival } from './pipeline/parse-request.js';
import { Recorder } from './pipeline/record.js';
import { DestinationResolver, type LookupFn } from './pipeline/resolve-destination.js';
import { gateOwnHeaders } from './wire/headers.js';
import { Splices } from './wire/splices.js';

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

/** Requests `on_silence: pause` may hold at once; beyond it they end SILENCE at once. */
const PAUSE_MAX_HELD = 256;
/** After the drain grace, how long ended tunnels and WebSockets get to write their outcomes. */
const SPLICE_END_GRACE_MS = 1000;

/** Starts a gate from a validated config; resolves once its listeners are bound. */
export async function startGate(config: GateConfig, opts: GateOptions = {}): Promise<RunningGate> {
  const log = opts.log ?? createLogger();
  const clock = opts.clock ?? Date.now;
  const metrics = createMetrics();

  // Evidence first: nothing is decided before the receipt log is open.
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

  // Authority: route maps, permits, decider.
  const upstreamCa = await Promise.all(config.tls.upstreamCa.map((p) => readFile(p, 'utf8')));
  const policy = new PolicySource({
    settings: config.policy, secretsDir: config.secrets.dir, configFile: config.source, clock, upstreamCa,
    onApplied: async (p: CompiledPolicy) => {
      metrics.policyInfo.reset();
      metrics.policyInfo.set({ version: p.version, digest: p.digest }, 1);
      metrics.reloads.inc({ result: 'applied' });
      log.info({ version: p.version, digest: p.digest, routes: p.routes.length }, 'route maps in effect');
      for (const w of p.warnings) log.warn({ warning: w }, 'route-map warning');
      showReportMode({ metrics, log }, config.gate.mode, p);
      // Not awaited: until the listeners are bound the log holds it (after `start`).
      void receipts.append({ kind: 'lifecycle', event: 'policy', version: p.version, digest: p.digest }).catch((e) => log.error({ err: (e as Error).message }, 'policy receipt could not be written'));
    },
    onRefused: (error) => { metrics.reloads.inc({ result: 'refused' }); log.error({ error }, 'route-map reload refused; the last good version stays'); },
    onUnreachable: (error) => log.warn({ error, max_stale_ms: config.policy.maxStaleMs }, 'route-map bundle unreachable; the last good version serves until max_stale'),
  });
  showReportMode({ metrics, log }, config.gate.mode, undefined);
  metrics.setStaleSource(() => policy.staleSeconds());
  metrics.setLastCommitSource(() => (receipts.lastCommitAt === undefined ? undefined : (clock() - receipts.lastCommitAt) / 1000));
  // Refuses the start (exit 2) when gate.admin_token_file cannot be read or holds no usable token.
  const consoleAccess = await ConsoleAccess.fromConfig(config);
  if (!(await policy.start())) log.error({ source: config.policy.routes[0] }, 'no route maps could be loaded: every request is SILENCE POLICY_UNAVAILABLE until the bundle is fetched');
  await policy.watch();
  const permits = await setUpPermits(config, { clock, log, receiptsDir: config.receipts.dir });
  const decider = config.decider ? new DeciderClient({ url: config.decider.url, timeoutMs: config.decider.timeoutMs, ca: upstreamCa, clock }) : undefined;

  // The pipeline: the one chain, the record stage, and the forwarder.
  let ownPorts: number[] = [config.gate.listen.port, config.gate.admin.port];
  const resolver = new DestinationResolver(config.network, { lookup: opts.lookup, ownPorts: () => ownPorts });
  const chain = new DecisionChain({
    config, gateId: config.gate.id, subject: config.gate.subject, clock, log, policy: () => policy.policy, resolver,
    permits: permits.checker, replay: permits.replay, decider, pause: new PauseGate(PAUSE_MAX_HELD, 200, clock),
  });
  // The admin console's live stream: fed by the recorder only while a console watches.
  const hub = new DecisionHub();
  const recorder = new Recorder({ config, receipts, replay: permits.replay, metrics, log, hub });
  const drop = gateOwnHeaders(config.permits.header);
  const forwarder = new Forwarder({ upstreamTimeoutMs: config.limits.upstreamTimeoutMs, upstreamCa, drop });
  const splices = new Splices();

  // Arrivals: requests, upgrades, CONNECT and interception, parser refusals.
  const inFlight = new InFlight();
  const permitRequest = config.permits.requestUrl;
  // An outcome stays in flight (stop waits for it) without holding up the connection's next request.
  const requests = new RequestHandler({ chain, recorder, resolver, forwarder, metrics, permitRequest, trackOutcome: (w) => void inFlight.track(w) });
  const upgrades = new UpgradeHandler({ chain, recorder, drop, resolver, splices, upstreamCa, upstreamTimeoutMs: config.limits.upstreamTimeoutMs, log, permitRequest });
  // Every arrival on an agent connection takes its turn (connection-turns.ts): in order, and
  // nothing behind a closing answer (REQUEST_INVALID, an upgrade, a tunnel) is ever decided.
  const turns = new ConnectionTurns();
  /** A dropped arrival gets no answer: the closing answer before it ends the socket; this is the backstop. */
  const backstop = (socket: import('node:stream').Duplex) => () => { setTimeout(() => socket.destroy(), 5000).unref(); };
  const handlers = {
    request: (req: http.IncomingMessage, res: http.ServerResponse, arrival: Arrival) => {
      turns.noteMessage(req.socket, req);
      void inFlight.track(turns.run(req.socket, () => requests.handle(req, res, arrival), backstop(req.socket)));
    },
    upgrade: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, arrival: Arrival) => {
      void inFlight.track(turns.run(socket, async () => { await upgrades.handle(req, socket, head, arrival); return 'close'; }, backstop(socket)));
    },
    // A CONNECT, on the proxy port or (REQUEST_INVALID) inside a tunnel. Tracked: a tunnel's run
    // ends with its outcome receipt (an intercepted CONNECT's right after the hand-off).
    connect: (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, arrival: Arrival) => {
      // An intercepted plain stream stays 'open': the requests inside take their turns on the same socket.
      void inFlight.track(turns.run(socket, () => connect.handle(req, socket, head, arrival), backstop(socket)));
    },
    // An HTTP/2 stream: concurrent with the others of its connection, so no turns (h2-sessions.ts).
    stream: (req: Http2ServerRequest, res: Http2ServerResponse, arrival: Arrival) => inFlight.track(requests.handle(req, res, arrival).then(() => undefined)),
    h2Closed: (cause: H2CloseCause, arrival: Arrival, detail?: string) => {
      metrics.h2Closes.inc({ cause });
      if (cause === 'reset_flood') log.warn({ tunnel: arrival.tunnel }, 'HTTP/2 connection closed: streams reset faster than the gate handles them (reset flood)');
      else if (cause === 'protocol_error') log.warn({ tunnel: arrival.tunnel, error: detail }, 'HTTP/2 connection closed: protocol error');
    },
  };
  const serverOptions = agentServerOptions(config);
  const ca = config.tls.caCert && config.tls.caKey ? await loadCa(config.tls.caCert, config.tls.caKey) : undefined;
  const interception = ca
    ? new Interception(createLeafIssuer(ca), serverOptions, handlers, config.limits.headerTimeoutMs)
    : undefined;
  const connect = new ConnectHandler({ chain, recorder, resolver, interception, splices, upstreamTimeoutMs: config.limits.upstreamTimeoutMs, log, permitRequest });
  const proxyArrival: Arrival = { scheme: 'http' };
  const onProxyRequest = (req: http.IncomingMessage, res: http.ServerResponse) => handlers.request(req, res, proxyArrival);
  const proxy = http.createServer(serverOptions, onProxyRequest);
  proxy.on('checkExpectation', onProxyRequest);
  proxy.on('connect', (req, socket, head) => handlers.connect(req, socket, head, proxyArrival));
  proxy.on('upgrade', (req, socket, head) => handlers.upgrade(req, socket, head, proxyArrival));
  const onClientError = refuseMalformed({ recorder, metrics, log, turns });
  for (const s of [proxy, ...(interception ? [interception.servers.https, interception.servers.http] : [])]) guardAgentServer(s, onClientError);

  let started = false;
  const admin = createAdminServer({
    caPem: ca?.certPem,
    registry: metrics.registry,
    jwks: () => ({ keys: [signer.publicJwk] }),
    receipts,
    console: createConsoleHandler({ config, hub, access: consoleAccess, assets: new ConsoleAssets(), policy, permits: permits.checker, clock }),
    // Not ready before the `start` entry is durable (the listeners answer /readyz a moment earlier).
    readiness: readinessOf({ config, policy, keysReady: () => permits.ready(), receiptsWritable: () => started && receipts.writable }),
  });

  // The resolver refuses these as destinations, so the admin port is never reachable through the proxy.
  ownPorts = [await listen(proxy, config.gate.listen.host, config.gate.listen.port), await listen(admin, config.gate.admin.host, config.gate.admin.port)];
  // Listeners bound: `start` (with the verifier key) is the first entry written, then what was held.
  await receipts.release({
    kind: 'lifecycle', event: 'start', version: opts.version ?? null, config_digest: config.digest, key_id: signer.kid,
    verifier_key: receipts.verifierKey, origin: receipts.origin, mode: config.gate.mode,
  });
  started = true;
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
        interception?.closeH2();
        await inFlight.drained(graceMs);
        // Tunnels and WebSockets still open after the grace are ended; their outcome receipts follow at once.
        splices.closeAll();
        await inFlight.drained(SPLICE_END_GRACE_MS);
        proxy.closeAllConnections();
        try {
          await receipts.close({ kind: 'lifecycle', event: 'stop', in_flight: inFlight.size });
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
