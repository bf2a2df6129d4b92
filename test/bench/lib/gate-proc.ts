/**
 * The gate under test: the BUILT bin (`npm run build` first) as its own process, with a
 * workspace from the integration harness (keys, CA, route maps) and one config per run (a
 * fresh receipts folder, durability fsync or none), optionally under `node --cpu-prof`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { adminGet, BIN, cleanEnv, GATE_ID, ISS, SUBJECT, workspace, type GateWorkspace } from '../../integration/harness.js';
import { startProc, waitPort, type Proc } from './procs.js';

export { GATE_ID, ISS, SUBJECT };

export interface GateRoutesPorts { http: number; https: number }

/** The routes every gate has, then `total - 5` filler routes on other hosts (never matched). */
export function benchRoutes(o: GateRoutesPorts, total: number): object {
  const h = '127.0.0.1';
  const routes: object[] = [
    { surface: 'bench', action: 'none', match: { scheme: 'http', host: h, port: o.http, method: 'GET', path: '/none/**' }, authorize: 'none' },
    { surface: 'bench', action: 'permit', match: { scheme: 'http', host: h, port: o.http, method: 'GET', path: '/permit/**' }, authorize: 'permit', single_use: true },
    { surface: 'bench', action: 'bound', match: { scheme: 'http', host: h, port: o.http, method: 'POST', path: '/bound' }, authorize: 'permit', single_use: true, bind_body: true },
    { surface: 'bench', action: 'tls-permit', match: { scheme: 'https', host: h, port: o.https, method: 'GET', path: '/permit/**' }, authorize: 'permit', single_use: true },
    { surface: 'bench', action: 'tls-none', match: { scheme: 'https', host: h, port: o.https, method: 'GET', path: '/none/**' }, authorize: 'none' },
  ];
  for (let i = routes.length; i < total; i++) {
    routes.push({ surface: `filler${i}`, action: 'call', match: { scheme: 'https', host: `api${i}.bench.test`, method: 'POST', path: '/v1/items/{id}/**' }, authorize: 'permit' });
  }
  return { routes };
}

export async function gateWorkspace(ports: GateRoutesPorts, routeCount: number, originCa: string): Promise<GateWorkspace> {
  return workspace({ routes: benchRoutes(ports, routeCount), config: (c) => { c.tls.upstream_ca = [originCa]; } });
}

export interface GateRun extends Proc { adminPort: number; listenPort: number; receiptsDir: string }

export async function startGateRun(ws: GateWorkspace, o: { durability: 'fsync' | 'none'; runDir: string; profileDir?: string }): Promise<GateRun> {
  const receiptsDir = path.join(o.runDir, 'receipts');
  const config = structuredClone(ws.config);
  config.receipts = { ...config.receipts, dir: receiptsDir, durability: o.durability };
  // Paths in the workspace config are relative to its folder; keep them resolvable from runDir.
  config.receipts.key = path.join(ws.dir, 'keys', 'receipts.private.jwk.json');
  config.permits.issuers[0].jwks = path.join(ws.dir, 'keys', 'issuer.jwks.json');
  config.tls.ca_cert = path.join(ws.dir, 'ca', 'ca.pem');
  config.tls.ca_key = path.join(ws.dir, 'ca', 'ca-key.pem');
  config.policy.routes = [path.join(ws.dir, 'routes')];
  const configPath = path.join(o.runDir, 'egress-gate.yaml');
  fs.writeFileSync(configPath, stringify(config));
  const node = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
  // Decision log lines go to a file (as to a container's log): the cost of writing them is the gate's.
  const proc = startProc('gate', process.execPath, [...node, BIN, 'start', '--config', configPath], { cwd: o.runDir, env: cleanEnv(), logFile: path.join(o.runDir, 'gate.log') });
  await waitPort(ws.listenPort, proc);
  for (const deadline = Date.now() + 20_000; ;) {
    try { if ((await adminGet(ws.adminPort, '/readyz')).status === 200) break; } catch { /* not yet */ }
    if (Date.now() > deadline) { await proc.stop(); throw new Error(`gate not ready: ${proc.output()}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { ...proc, adminPort: ws.adminPort, listenPort: ws.listenPort, receiptsDir };
}

/** A gate's counters from /metrics: arrival → decision (sum, count), fdatasync (sum, count), entries written. */
export interface GateCounters { decisionSum: number; decisionCount: number; fsyncSum: number; fsyncCount: number; entries: number }

export async function gateCounters(adminPort: number): Promise<GateCounters | undefined> {
  try {
    const { text } = await adminGet(adminPort, '/metrics');
    const one = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const entries = [...text.matchAll(/^egress_gate_receipts_total\{[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    return {
      decisionSum: one('egress_gate_decision_duration_seconds_sum'), decisionCount: one('egress_gate_decision_duration_seconds_count'),
      fsyncSum: one('egress_gate_receipt_fsync_duration_seconds_sum'), fsyncCount: one('egress_gate_receipt_fsync_duration_seconds_count'), entries,
    };
  } catch { return undefined; }
}
