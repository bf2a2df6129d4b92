/**
 * A/B of two builds of the gate on the same config, origin and load: alternating wrk runs of
 * plain GETs on a `none` route with fsync'd receipts, printing req/s, gate CPU µs/req, p50,
 * receipt lines per fdatasync and peak RSS. For judging a hot-path change on a noisy machine, where
 * back-to-back full bench runs differ by more than the change. Build the other version in a
 * worktree first:
 *   git worktree add /tmp/base HEAD~1 && (cd /tmp/base && ln -s "$PWD/../main/node_modules" . && npx tsc -p tsconfig.build.json)
 *   node --import tsx test/bench/ab.ts /tmp/base/bin/egress-gate.js bin/egress-gate.js [rounds=3] [connections=16]
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { originCerts, startOrigin, waitPort, freePort } from './lib/procs.js';
import { gateWorkspace } from './lib/gate-proc.js';
import { cpuSeconds, peakRssMiB } from './lib/proc-stats.js';
import { stringify } from 'yaml';
const [binA, binB] = process.argv.slice(2, 4).map((b) => path.resolve(b)); const rounds = Number(process.argv[4] ?? 3); const conns = Number(process.argv[5] ?? 16);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-ab-'));
const certs = originCerts(tmp);
const origin = await startOrigin(tmp, certs);
const w = await gateWorkspace({ http: origin.http, https: origin.https }, 10, certs.ca);
const lua = path.join(tmp, 'abs.lua');
fs.writeFileSync(lua, `wrk.path = "http://127.0.0.1:${origin.http}/none/x"\nwrk.headers["Host"] = "127.0.0.1:${origin.http}"\n`);
async function run(bin: string, tag: string) {
  const dir = fs.mkdtempSync(path.join(tmp, `${tag}-`));
  const c = structuredClone(w.config) as Record<string, any>;
  const port = await freePort(); const admin = await freePort();
  c.gate.listen = `127.0.0.1:${port}`; c.gate.admin = `127.0.0.1:${admin}`;
  c.receipts = { ...c.receipts, dir: path.join(dir, 'receipts'), durability: 'fsync', key: path.join(w.dir, 'keys', 'receipts.private.jwk.json') };
  c.permits.issuers[0].jwks = path.join(w.dir, 'keys', 'issuer.jwks.json');
  c.tls.ca_cert = path.join(w.dir, 'ca', 'ca.pem'); c.tls.ca_key = path.join(w.dir, 'ca', 'ca-key.pem');
  c.policy.routes = [path.join(w.dir, 'routes')];
  fs.writeFileSync(path.join(dir, 'g.yaml'), stringify(c));
  const p = spawn(process.execPath, [bin, 'start', '--config', path.join(dir, 'g.yaml')], { cwd: dir, stdio: ['ignore', fs.openSync(path.join(dir, 'log'), 'w'), 'inherit'] });
  await waitPort(port, { name: tag, proc: p, pid: p.pid!, stop: async () => undefined, output: () => '' });
  await new Promise((r) => setTimeout(r, 500));
  execFileSync('wrk', ['-t1', `-c${conns}`, '-d1s', '-s', lua, `http://127.0.0.1:${port}`]);
  const c0 = cpuSeconds(p.pid!)!;
  const out = execFileSync('wrk', ['-t1', `-c${conns}`, '-d5s', '-s', lua, '--latency', `http://127.0.0.1:${port}`]).toString();
  const c1 = cpuSeconds(p.pid!)!;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
  const m = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const fs_ = Number(/egress_gate_receipt_fsync_duration_seconds_count (\d+)/.exec(m)![1]);
  const recs = Number(/egress_gate_receipts_total\{kind="decision"\} (\d+)/.exec(m)?.[1] ?? 0);
  const rss = peakRssMiB(p.pid!);
  p.kill('SIGTERM'); await new Promise((r) => p.once('exit', r));
  console.log(`${tag} ${Math.round(rps)} req/s  cpu ${Math.round((c1 - c0) * 1e6 / (rps * 5))} µs/req  p50 ${/50%\s+(\S+)/.exec(out)![1]}  lines/fsync ${(2 * recs / fs_).toFixed(1)}  peak RSS ${rss?.toFixed(0)} MiB`);
}
try {
  for (let i = 0; i < rounds; i++) { await run(binA!, 'A'); await run(binB!, 'B'); }
} finally {
  // The origin is a separate process: stop it even when a gate failed to start.
  await origin.proc.stop();
}
process.exit(0);
