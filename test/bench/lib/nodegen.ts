/**
 * Runs the Node load generator (loadgen.ts) as `procs` child processes that split the
 * connections, in lock step: all mint their permits, all warm up, then all measure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Histogram } from './histogram.js';
import { BENCH_DIR } from './procs.js';
import type { GenResult, GenSpec } from '../loadgen.js';

export interface NodeGenResult {
  requests: number; seconds: number; errors: number; non2xx: number;
  p50: number; p99: number; p999: number; genCpu: number; permitsExhausted: boolean; firstError?: string;
}

interface Worker { proc: ChildProcess; lines: AsyncIterator<string> }

async function expect(w: Worker, prefix: string): Promise<string> {
  for (;;) {
    const r = await w.lines.next();
    if (r.done) throw new Error(`load generator exited before "${prefix}"`);
    if (r.value.startsWith(prefix)) return r.value;
  }
}

export interface NodeGen { warmup(): Promise<void>; measure(): Promise<NodeGenResult>; kill(): void }

/** Spawns the workers and waits until each has minted its permits. */
export async function startNodeGen(spec: GenSpec, procs: number): Promise<NodeGen> {
  const workers: Worker[] = [];
  for (let i = 0; i < procs; i++) {
    const conns = Math.floor(spec.connections / procs) + (i < spec.connections % procs ? 1 : 0);
    const own: GenSpec = { ...spec, connections: conns, ...(spec.permit ? { permit: { ...spec.permit, count: Math.ceil(spec.permit.count / procs) } } : {}) };
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'loadgen.ts'), JSON.stringify(own)], { cwd: BENCH_DIR, stdio: ['pipe', 'pipe', 'inherit'] });
    workers.push({ proc, lines: readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]() });
  }
  await Promise.all(workers.map((w) => expect(w, 'ready')));
  return {
    warmup: async () => {
      for (const w of workers) w.proc.stdin!.write('warmup\n');
      await Promise.all(workers.map((w) => expect(w, 'warm')));
    },
    measure: async () => {
      for (const w of workers) w.proc.stdin!.write('measure\n');
      const rs = (await Promise.all(workers.map((w) => expect(w, 'result ')))).map((l) => JSON.parse(l.slice(7)) as GenResult);
      const h = Histogram.fromJSON(...rs.map((r) => r.latency));
      const seconds = Math.max(...rs.map((r) => r.seconds));
      return {
        requests: rs.reduce((a, r) => a + r.requests, 0), seconds,
        errors: rs.reduce((a, r) => a + r.errors, 0), non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9),
        genCpu: Math.max(...rs.map((r) => r.cpuSeconds / r.seconds)),
        permitsExhausted: rs.some((r) => r.permitsExhausted),
        ...(rs.find((r) => r.firstError) ? { firstError: rs.find((r) => r.firstError)!.firstError } : {}),
      };
    },
    kill: () => { for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL'); },
  };
}
