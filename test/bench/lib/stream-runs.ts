/**
 * The scenarios that are not a request rate: a large download, SSE latency, idle keep-alive
 * connections. Each runs against its own origin process (stream-origin.ts), direct, through
 * the bare forwarder and through the gate (`none` route, fsync'd receipts), in interleaved
 * rounds with a fresh proxy process per round; medians over rounds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { download } from '../download.js';
import { idleConnections, type IdleResult } from '../idle-connections.js';
import { sseLatency } from '../sse-latency.js';
import { gateWorkspace, startGateRun } from './gate-proc.js';
import { BENCH_DIR, freePort, startBare, startProc, waitPort, type Proc } from './procs.js';

export interface StreamResults {
  /** MB/s of one download, by target. */
  download: Partial<Record<'direct' | 'bare' | 'gate', number>>;
  downloadBytes: number;
  /** µs from the origin's write to the client's receipt, by target. */
  sse: Partial<Record<'direct' | 'bare' | 'gate', { p50: number; p99: number; max: number; events: number }>>;
  idle: Partial<Record<'bare' | 'gate', IdleResult>>;
}

export const STREAM_IDS = ['download-direct', 'download-bare', 'download-gate', 'sse-direct', 'sse-bare', 'sse-gate', 'idle-bare', 'idle-gate'] as const;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

type Heap = NonNullable<IdleResult['heap']>;
const medianHeap = (hs: Heap[]): Heap => ({ totalMiB: median(hs.map((h) => h.totalMiB)), usedMiB: median(hs.map((h) => h.usedMiB)), externalMiB: median(hs.map((h) => h.externalMiB)) });

export async function runStreamScenarios(o: {
  tmp: string; originCa: string; rounds: number; quick: boolean; wanted: (id: string) => boolean; log: (s: string) => void;
}): Promise<StreamResults> {
  const ids = STREAM_IDS.filter(o.wanted);
  const out: StreamResults = { download: {}, downloadBytes: o.quick ? 20e6 : 100e6, sse: {}, idle: {} };
  if (!ids.length) return out;
  const port = await freePort();
  const origin = startProc('stream-origin', process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'stream-origin.ts'), String(port)], { cwd: BENCH_DIR });
  const sseSpec = { originPort: port, events: o.quick ? 50 : 300, everyMs: 5 };
  const raw: { dl: Record<string, number[]>; sse: Record<string, { p50: number; p99: number; max: number; events: number }[]>; idle: Record<string, IdleResult[]> } = { dl: {}, sse: {}, idle: {} };
  const push = <T>(m: Record<string, T[]>, k: string, v: T) => { (m[k] ??= []).push(v); };
  try {
    await waitPort(port, origin);
    // The bench routes' `none` route matches http://127.0.0.1:<port>/none/**: point it at this origin.
    const ws = await gateWorkspace({ http: port, https: port }, 10, o.originCa);
    for (let round = 1; round <= o.rounds; round++) {
      for (const target of ['direct', 'bare', 'gate'] as const) {
        if (!ids.some((i) => i.endsWith(`-${target}`))) continue;
        let proc: Proc | undefined;
        let proxyPort: number | undefined;
        let adminPort: number | undefined;
        const runDir = fs.mkdtempSync(path.join(o.tmp, `streams-${target}-`));
        fs.chmodSync(runDir, 0o777);
        try {
          if (target === 'bare') { const b = await startBare(); proc = b.proc; proxyPort = b.port; }
          if (target === 'gate') { const g = await startGateRun(ws, { durability: 'fsync', runDir }); proc = g; proxyPort = g.listenPort; adminPort = g.adminPort; }
          // The idle reading comes first: it includes the RSS of the process as started.
          if (proc && proxyPort && o.wanted(`idle-${target}`)) {
            const r = await idleConnections({ pid: proc.pid, proxyPort, originPort: port, count: 1000, settleMs: o.quick ? 500 : 1500, adminPort });
            push(raw.idle, target, r);
            o.log(`[streams r${round}] idle-${target}: idle RSS ${r.idleRssMiB.toFixed(1)} MiB; ${r.connections} keep-alive connections ${r.beforeMiB.toFixed(1)} → ${r.afterMiB.toFixed(1)} MiB (+${r.addedMiB.toFixed(1)})${r.heap ? `; V8 heap total +${r.heap.totalMiB.toFixed(1)}, used +${r.heap.usedMiB.toFixed(1)}, external +${r.heap.externalMiB.toFixed(1)} MiB` : ''}`);
          }
          if (o.wanted(`download-${target}`)) {
            const r = await download({ originPort: port, proxyPort, bytes: out.downloadBytes });
            push(raw.dl, target, r.mbPerS);
            o.log(`[streams r${round}] download-${target}: ${(r.bytes / 1e6).toFixed(0)} MB in ${r.seconds.toFixed(2)} s = ${r.mbPerS.toFixed(0)} MB/s`);
          }
          if (o.wanted(`sse-${target}`)) {
            const r = await sseLatency({ ...sseSpec, proxyPort });
            push(raw.sse, target, r);
            o.log(`[streams r${round}] sse-${target}: ${r.events} events, write → receipt p50 ${r.p50.toFixed(0)} µs, p99 ${r.p99.toFixed(0)} µs, max ${r.max.toFixed(0)} µs`);
          }
        } finally {
          await proc?.stop(3000);
          fs.rmSync(runDir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await origin.stop();
  }
  for (const [k, v] of Object.entries(raw.dl)) out.download[k as 'gate'] = median(v);
  for (const [k, v] of Object.entries(raw.sse)) out.sse[k as 'gate'] = { p50: median(v.map((r) => r.p50)), p99: median(v.map((r) => r.p99)), max: Math.max(...v.map((r) => r.max)), events: v.reduce((a, r) => a + r.events, 0) };
  for (const [k, v] of Object.entries(raw.idle)) {
    const m = (f: (r: IdleResult) => number) => median(v.map(f));
    const heaps = v.map((r) => r.heap).filter((h) => h !== undefined);
    const idleHeaps = v.map((r) => r.idleHeap).filter((h) => h !== undefined);
    out.idle[k as 'gate'] = {
      idleRssMiB: m((r) => r.idleRssMiB), beforeMiB: m((r) => r.beforeMiB), afterMiB: m((r) => r.afterMiB), addedMiB: m((r) => r.addedMiB), connections: v[0]!.connections,
      ...(heaps.length ? { heap: medianHeap(heaps) } : {}),
      ...(idleHeaps.length ? { idleHeap: medianHeap(idleHeaps) } : {}),
    };
  }
  return out;
}
