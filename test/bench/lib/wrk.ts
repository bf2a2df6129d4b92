/**
 * wrk (one thread) for plain HTTP: a Lua script sets the request line's target (an absolute
 * URI when going through a proxy) and the Host header, and prints the summary as JSON,
 * including p99.9 which `--latency` does not show.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CpuSampler } from './proc-stats.js';

export interface WrkResult {
  requests: number; seconds: number; errors: number; non2xx: number;
  p50: number; p99: number; p999: number; genCpu?: number; firstError?: string;
}

export interface WrkSpec { port: number; target: string; host: string; connections: number; seconds: number; dir: string; method?: string }

function script(s: WrkSpec): string {
  const file = path.join(s.dir, `wrk-${s.port}-${Buffer.from(s.target).toString('hex').slice(0, 24)}.lua`);
  fs.writeFileSync(file, `wrk.method = "${s.method ?? 'GET'}"
wrk.path = "${s.target}"
wrk.headers["Host"] = "${s.host}"
wrk.headers["User-Agent"] = "egress-bench"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d,"p999":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`);
  return file;
}

export function wrkAvailable(): boolean {
  return ['/usr/bin/wrk', '/usr/local/bin/wrk'].some((p) => fs.existsSync(p));
}

export async function runWrk(s: WrkSpec): Promise<WrkResult> {
  const args = ['-t1', `-c${s.connections}`, `-d${Math.max(1, Math.round(s.seconds))}s`, '--timeout', '10s', '-s', script(s), `http://127.0.0.1:${s.port}`];
  const proc = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const sampler = new CpuSampler(proc.pid!);
  let out = '';
  proc.stdout.on('data', (d) => { out += String(d); });
  proc.stderr.on('data', (d) => { out += String(d); });
  await new Promise<void>((r) => proc.once('exit', () => r()));
  const genCpu = sampler.stop();
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no summary: ${out.slice(-1000)}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  const errors = j.connect! + j.read! + j.write! + j.timeout!;
  return {
    requests: j.requests!, seconds: j.duration_us! / 1e6, errors, non2xx: j.status!,
    p50: j.p50!, p99: j.p99!, p999: j.p999!, genCpu,
    ...(errors || j.status ? { firstError: out.split('\n').filter((l) => /error|Non-2xx/i.test(l)).join('; ').slice(0, 300) } : {}),
  };
}
