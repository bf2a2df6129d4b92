/**
 * A/B of two builds of the gate on the same config, origin and load: alternating wrk runs of
 * plain GETs on a `none` route with fsync'd receipts, printing req/s, gate CPU µs/req, p50,
 * receipt lines per fdatasync and peak RSS, then the medians of each and B/A. For judging a hot-path change on a noisy machine, where
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
  const out = fs.openSync(path.join(dir, 'log'), 'w');
  // AB_NODE_ARGS_A / AB_NODE_ARGS_B: node flags for one side (the same build under other V8 flags).
  const flags = (process.env[`AB_NODE_ARGS_${tag}`] ?? '').split(' ').filter(Boolean);
  const p = spawn(process.execPath, [...flags, bin, 'start', '--config', path.join(dir, 'g.yaml')], { cwd: dir, stdio: ['ignore', out, out] });
  await waitPort(port, { name: tag, proc: p, pid: p.pid!, stop: async () => undefined, output: () => '' });
  await new Promise((r) => setTimeout(r, 500));
  execFileSync('wrk', ['-t1', `-c${conns}`, '-d1s', '-s', lua, `http://127.0.0.1:${port}`]);
  const c0 = cpuSeconds(p.pid!)!;
  const wrkOut = execFileSync('wrk', ['-t1', `-c${conns}`, '-d5s', '-s', lua, '--latency', `http://127.0.0.1:${port}`]).toString();
  const c1 = cpuSeconds(p.pid!)!;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrkOut)![1]);
  const m = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const fs_ = Number(/egress_gate_receipt_fsync_duration_seconds_count (\d+)/.exec(m)![1]);
  const recs = Number(/egress_gate_receipts_total\{kind="decision"\} (\d+)/.exec(m)?.[1] ?? 0);
  const rss = peakRssMiB(p.pid!);
  p.kill('SIGTERM'); await new Promise((r) => p.once('exit', r));
  const p50 = /50%\s+([\d.]+)(us|ms|s)/.exec(wrkOut)!;
  const r = { rps, cpu: (c1 - c0) * 1e6 / (rps * 5), p50Ms: Number(p50[1]) * ({ us: 1e-3, ms: 1, s: 1e3 } as Record<string, number>)[p50[2]!]!, linesPerFsync: 2 * recs / fs_, rss: rss ?? NaN };
  results[tag]!.push(r);
  console.log(`${tag} ${Math.round(rps)} req/s  cpu ${Math.round(r.cpu)} µs/req  p50 ${r.p50Ms.toFixed(2)} ms  lines/fsync ${r.linesPerFsync.toFixed(1)}  peak RSS ${rss?.toFixed(0)} MiB`);
}
type R = { rps: number; cpu: number; p50Ms: number; linesPerFsync: number; rss: number };
const results: Record<string, R[]> = { A: [], B: [] };
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
try {
  for (let i = 0; i < rounds; i++) { await run(binA!, 'A'); await run(binB!, 'B'); }
  const m = (t: string, k: keyof R) => med(results[t]!.map((r) => r[k]));
  console.log(`medians of ${rounds} rounds, ${conns} connection(s): A ${Math.round(m('A', 'rps'))} req/s, ${Math.round(m('A', 'cpu'))} µs/req, p50 ${m('A', 'p50Ms').toFixed(2)} ms, ${m('A', 'linesPerFsync').toFixed(1)} lines/fsync`
    + ` | B ${Math.round(m('B', 'rps'))} req/s, ${Math.round(m('B', 'cpu'))} µs/req, p50 ${m('B', 'p50Ms').toFixed(2)} ms, ${m('B', 'linesPerFsync').toFixed(1)} lines/fsync`
    + ` | B/A req/s ${(m('B', 'rps') / m('A', 'rps')).toFixed(3)}, CPU/req ${(m('B', 'cpu') / m('A', 'cpu')).toFixed(3)}`);
  // Pairs run back to back share the machine's state: their ratios are steadier than the medians.
  const pairs = results.A!.map((a, i) => ({ rps: results.B![i]!.rps / a.rps, cpu: results.B![i]!.cpu / a.cpu }));
  console.log(`pairs (A then B): B faster in ${pairs.filter((p) => p.rps > 1).length} of ${pairs.length}, B cheaper per request in ${pairs.filter((p) => p.cpu < 1).length}; median of pair ratios: req/s ${med(pairs.map((p) => p.rps)).toFixed(3)}, CPU/req ${med(pairs.map((p) => p.cpu)).toFixed(3)}`);
} finally {
  // The origin is a separate process: stop it even when a gate failed to start.
  await origin.proc.stop();
  // Each run's receipts (hundreds of MB over a long A/B) go with it.
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
