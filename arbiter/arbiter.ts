/**
 * The arbiter's composition root (SPEC §12): builds a running permit authority from a
 * validated config. Evidence first — the log is open and its `start` entry durable before
 * anything is answered; the signing key and the callers' keys are loaded before the listener
 * binds, so a missing one refuses the start rather than serving. The route maps come from the
 * gate's own PolicySource (runtime/): invalid files refuse the start; a remote bundle that
 * cannot be had leaves the arbiter running but not ready, issuing nothing (POLICY_UNAVAILABLE)
 * until a good fetch, and a refused or unreachable bundle serves the last good one until
 * `max_stale`, exactly as the gate does.
 */
import http from 'node:http';
import https from 'node:https';
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { publicJwk, signingAlgorithmOf } from '../policy/permits/jwk-algorithms.js';
import type { CompiledPolicy } from '../policy/types.js';
import { DeciderClient } from '../runtime/decider-client.js';
import { listen } from '../runtime/listen.js';
import { createAdminHandler } from '../runtime/admin-server.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { createReceiptSigner } from '../receipts/receipt-codec.js';
import { ReceiptLog } from '../receipts/receipt-log.js';
import { PolicySource } from '../runtime/policy-source.js';
import { createArbiterMetrics, type ArbiterMetrics } from './arbiter-metrics.js';
import { BreakGlass } from './break-glass.js';
import { Authenticator } from './callers.js';
import { createApiHandler } from './http-api.js';
import { IssuanceLog } from './issuance-log.js';
import { PermitAuthority } from './permit-authority.js';
import type { ArbiterConfig } from './types.js';

export interface ArbiterOptions {
  log?: Logger;
  clock?: () => number;
  version?: string;
}

export interface RunningArbiter {
  config: ArbiterConfig;
  server: http.Server;
  port: number;
  authority: PermitAuthority;
  metrics: ArbiterMetrics;
  log: Logger;
  reload(): Promise<void>;
  stop(): Promise<void>;
}

const SWEEP_MS = 500;

/** Reads the permit signing key; throws for a missing or unusable one (no keys, no start). */
async function readSigningKey(file: string): Promise<JWK> {
  const jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  if (typeof jwk.d !== 'string' || !jwk.kid) throw new Error(`${file}: the arbiter key must be a private JWK with a kid`);
  const alg = signingAlgorithmOf(jwk);
  if (alg !== 'EdDSA' && alg !== 'ES256') throw new Error(`${file}: the arbiter signs with EdDSA or ES256, not ${alg}`);
  return { ...jwk, alg };
}

export async function startArbiter(config: ArbiterConfig, opts: ArbiterOptions = {}): Promise<RunningArbiter> {
  const logger = opts.log ?? createLogger();
  const clock = opts.clock ?? Date.now;

  const signer = createReceiptSigner(JSON.parse(await readFile(config.receipts.key, 'utf8')));
  const receipts = await ReceiptLog.open({
    dir: config.receipts.dir, signer, durability: config.receipts.durability, rotateBytes: config.receipts.rotateBytes, gate: config.receipts.origin, origin: config.receipts.origin, clock,
  });
  const log = new IssuanceLog(receipts);
  await log.lifecycle({ event: 'start', version: opts.version ?? null, config_digest: config.digest, key_id: signer.kid, verifier_key: receipts.verifierKey, origin: receipts.origin, role: 'arbiter' });

  // Forward references: the gauges are read at scrape time, after both exist.
  let authority: PermitAuthority | undefined;
  const metrics = createArbiterMetrics(() => authority?.requests.waiting().length ?? 0, () => routeMaps.staleSeconds());
  const routeMaps = new PolicySource({
    // The arbiter matches the gates' routes but forwards nothing: it never reads their secrets.
    settings: config.policy, configFile: config.source, readSecrets: false, clock,
    onApplied: async (p: CompiledPolicy) => {
      metrics.reloads.inc({ result: 'applied' });
      logger.info({ version: p.version, digest: p.digest, routes: p.routes.length }, 'route maps in effect');
      await log.lifecycle({ event: 'policy', version: p.version, digest: p.digest }).catch((e) => logger.error({ err: (e as Error).message }, 'policy entry could not be written'));
    },
    onRefused: (error) => { metrics.reloads.inc({ result: 'refused' }); logger.error({ error }, 'route-map reload refused; the last good version stays'); },
    onUnreachable: (error) => logger.warn({ error, max_stale_ms: config.policy.maxStaleMs }, 'route-map bundle unreachable; the last good version serves until max_stale'),
  });
  const key = await readSigningKey(config.arbiter.key);
  const auth = new Authenticator(config.callers, config.approvers);
  await auth.init();
  if (!(await routeMaps.start())) logger.error({ source: config.policy.routes[0] }, 'no route maps could be loaded: no permit is issued (POLICY_UNAVAILABLE) until the bundle is fetched');
  const decider = config.decider ? new DeciderClient({ url: config.decider.url, timeoutMs: config.decider.timeoutMs, clock }) : undefined;

  const breakGlass = new BreakGlass({
    approvals: config.breakGlass.approvals, maxTtlMs: config.breakGlass.maxTtlMs, maxWaitMs: config.pending.maxWaitMs,
    log, logger, clock, onChange: (n) => metrics.breakGlass.set(n),
  });
  authority = new PermitAuthority({
    config, policy: () => routeMaps.policy, log, signingKey: () => key as JsonWebKey & { kid?: string }, decider, breakGlass, clock, logger,
    onAnswer: (decision, reason) => metrics.answers.inc({ decision, reason }),
  });
  const rebuilt = await authority.requests.rebuild(config.receipts.dir);
  if (rebuilt > 0) logger.info({ pending: rebuilt }, 'pending permit requests rebuilt from the log');

  const admin = createAdminHandler({
    registry: metrics.registry,
    jwks: () => ({ keys: [signer.publicJwk] }),
    receipts,
    readiness: () => {
      const ps = routeMaps.status();
      return { ready: receipts.writable && ps.fresh, receipts: { writable: receipts.writable }, policy: { ...ps, ready: ps.fresh }, keys: { kid: key.kid } };
    },
  });
  const handler = createApiHandler({
    auth, authority, breakGlass, admin,
    jwks: () => ({ keys: [{ ...publicJwk(key), use: 'sig' }] }),
    onError: (e) => logger.error({ err: e }, 'exception answering a request'),
  });
  const server = config.arbiter.tls
    ? https.createServer({ cert: await readFile(config.arbiter.tls.cert), key: await readFile(config.arbiter.tls.key) }, handler)
    : http.createServer(handler);
  let port: number;
  try {
    port = await listen(server as http.Server, config.arbiter.listen.host, config.arbiter.listen.port);
  } catch (e) {
    routeMaps.close();
    throw e;
  }
  await routeMaps.watch();

  const sweeper = setInterval(() => {
    void authority.sweep().then(() => breakGlass.sweep()).catch((e) => logger.error({ err: e }, 'sweep failed'));
  }, SWEEP_MS);
  sweeper.unref();

  let stopping: Promise<void> | undefined;
  return {
    config, server: server as http.Server, port, authority, metrics, log: logger,
    reload: () => routeMaps.reload(),
    stop() {
      stopping ??= (async () => {
        clearInterval(sweeper);
        routeMaps.close();
        server.close();
        server.closeAllConnections();
        try {
          await receipts.close({ kind: 'lifecycle', event: 'stop' });
        } finally {
          await decider?.close();
        }
      })();
      return stopping;
    },
  };
}
