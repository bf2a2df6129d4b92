/**
 * Linux /proc readings for a process we started: CPU time (utime+stime) and peak RSS (VmHWM).
 * Used for the proxy's CPU per request and for load generators' own saturation.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let tck = 0;
function clockTicks(): number {
  if (!tck) {
    try { tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { tck = 100; }
  }
  return tck;
}

/** CPU seconds (user + system) used by pid so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is f[0]; utime is field 14 → f[11], stime f[12].
    return (Number(f[11]) + Number(f[12])) / clockTicks();
  } catch { return undefined; }
}

function statusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch { return undefined; }
}

/** Peak resident set size in MiB (VmHWM), or undefined. */
export const peakRssMiB = (pid: number): number | undefined => statusMiB(pid, 'VmHWM');
/** Resident set size now in MiB (VmRSS), or undefined. */
export const rssMiB = (pid: number): number | undefined => statusMiB(pid, 'VmRSS');

/**
 * Samples a short-lived process's CPU every `everyMs` and keeps the first and last readings,
 * so CPU/wall is known even after it exited (the tail after the last sample is lost; it is
 * the time it takes to print a summary).
 */
export class CpuSampler {
  private first?: { t: number; cpu: number };
  private last?: { t: number; cpu: number };
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 200) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  private sample(): void {
    const cpu = cpuSeconds(this.pid);
    if (cpu === undefined) return;
    const r = { t: performance.now(), cpu };
    this.first ??= r;
    this.last = r;
  }
  /** Stops sampling; returns CPU seconds per wall second over the sampled span. */
  stop(): number | undefined {
    clearInterval(this.timer);
    if (!this.first || !this.last || this.last.t - this.first.t < 100) return undefined;
    return (this.last.cpu - this.first.cpu) / ((this.last.t - this.first.t) / 1000);
  }
}

/** CPU seconds per thread of pid, by thread id (Node 20 names every thread "node", so names say nothing). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) / clockTicks());
    } catch { /* the thread ended */ }
  }
  return out;
}

/**
 * CPU per request between two readings, grouped: the main thread, the busiest other thread
 * (in the gate: the receipt writer, which owns the log file, signs and fsyncs), and the rest
 * (libuv pool, V8's GC and compiler threads).
 */
export function threadSplitUsPerReq(pid: number, before: Map<string, number>, after: Map<string, number>, requests: number): Record<string, number> {
  const d = [...after].map(([tid, s]) => [tid, ((s - (before.get(tid) ?? 0)) * 1e6) / requests] as const);
  const main = d.find(([tid]) => tid === String(pid))?.[1] ?? 0;
  const others = d.filter(([tid]) => tid !== String(pid)).map(([, v]) => v).sort((a, b) => b - a);
  return { main, 'busiest other thread': others[0] ?? 0, 'other threads': others.slice(1).reduce((a, v) => a + v, 0) };
}
