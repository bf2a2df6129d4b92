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

/** Peak resident set size in MiB (VmHWM), or undefined. */
export function peakRssMiB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch { return undefined; }
}

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
