/**
 * The targets of issue 14, judged on one run's measurements: every target gets its measured
 * value and holds / misses; a miss gets the measured reason (per-thread CPU of the gate, the
 * profile's top functions when the run was profiled, the comparison rows) and what reaching
 * it would take, computed from the same numbers. Nothing here is typed in by hand.
 */
import type { Row } from './report.js';
import type { StreamResults } from './stream-runs.js';

/** Per-operation CPU costs on this machine (test/bench/floor.ts), in µs. */
export interface Floor {
  signUs: number; verifyUs: number; permitCheckCpuUs: number; permitCheckEs256CpuUs?: number; verifyEs256Us?: number;
  /** CPU µs of jose's compactVerify with a CryptoKey, with a KeyObject, and of node:crypto's verify, by issuer algorithm. */
  joseVerify?: Record<'EdDSA' | 'ES256', { cryptoKey: number; keyObject: number; nodeCrypto: number }>;
}

/** One size of receipt-log-scale.ts: mean µs per proof. */
export interface ProofScale { n: number; proofUs: number; proofIdUs: number; consUs: number; openIndexMs: number; logBytes: number; indexBytes: number }

export interface Extras {
  floor?: Floor;
  /** ns per in-process decision (normalize + match) at 10 and 10,000 routes (match-routes.ts). */
  decision?: { ten: number; tenK: number };
  streams?: StreamResults;
  proofs?: ProofScale[];
  /** Top main-thread functions of a scenario's CPU profile (--profile runs), by scenario id. */
  profileTop?: Map<string, string>;
}

export interface Target { name: string; measured: string; holds: boolean | undefined; detail: string }

export const fmt = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US'));
export const ms = (usv: number | undefined): string => (usv === undefined || !Number.isFinite(usv) ? '—' : `${(usv / 1000).toFixed(2)} ms`);
export const us = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(0)} µs`);
const mib = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(1)} MiB`);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;

/** Where a gate row's CPU went: per thread, per request, and the profile's top functions. */
function cpuSplit(r: Row, x: Extras): string {
  const t = r.threadUsPerReq;
  const parts = t ? Object.entries(t).filter(([, v]) => v >= 1).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${us(v)}`) : [];
  const prof = x.profileTop?.get(r.id);
  const commit = r.fsyncUs !== undefined ? `; receipts: ${(r.linesPerFsync ?? NaN).toFixed(1)} entries per commit, fdatasync ${us(r.fsyncUs)} mean (a request waits for its decision entry's commit before it leaves)` : '';
  return `gate CPU ${us(r.proxyCpuUsPerReq)}/req${parts.length ? ` (${parts.join(', ')}; the busiest other thread is the receipt writer)` : ''}${commit}${prof ? `; profile top: ${prof}` : ''}`;
}

/** A rate target missed: what the gate's CPU per request would have to be, if the machine stays the limit. */
function rateNeed(a: Row, want: number, x: Extras): string {
  const need = a.proxyCpuUsPerReq !== undefined ? a.proxyCpuUsPerReq * (a.rps / want) : undefined;
  // Commits are sequential and a request needs its decision entry's commit: with two entries a
  // request, the commits measured allow at most (entries per commit / 2) / fdatasync requests a second.
  const bound = a.fsyncUs && a.linesPerFsync ? (a.linesPerFsync / 2) / (a.fsyncUs / 1e6) : undefined;
  const commits = bound !== undefined ? `; the commit pipeline alone allows about ${fmt(bound)} req/s (${(a.linesPerFsync! / 2).toFixed(1)} requests per commit / ${us(a.fsyncUs)} fdatasync)${bound < want ? `, below the target: it would also take a faster fdatasync or more requests per commit (more connections)` : ''}` : '';
  return `${cpuSplit(a, x)}. Reaching ${fmt(want)} req/s on these 2 shared cores takes the gate's CPU per request from ${us(a.proxyCpuUsPerReq)} to about ${us(need)} (rate scales with 1 / CPU per request while the machine is full)${commits}`;
}

/** What jose's WebCrypto path costs beside node:crypto, and whether a KeyObject changes it. */
function joseNote(f: Floor | undefined): string {
  const j = f?.joseVerify;
  if (!j) return '';
  const one = (alg: 'EdDSA' | 'ES256') => `${alg} ${us(j[alg].cryptoKey)} with the CryptoKey, ${us(j[alg].keyObject)} with a cached KeyObject, node:crypto ${us(j[alg].nodeCrypto)}`;
  return `; jose's compactVerify alone: ${one('EdDSA')}; ${one('ES256')} (jose 6 verifies through WebCrypto whatever key it is given)`;
}

export function targets(rows: Row[], x: Extras): Target[] {
  const g = (id: string) => rows.find((r) => r.id === id);
  const out: Target[] = [];
  const t = (name: string, ids: string[], f: (...r: Row[]) => Omit<Target, 'name'>) => {
    const rs = ids.map(g);
    if (rs.some((r) => !r)) out.push({ name, measured: '—', holds: undefined, detail: `not measured in this run (needs ${ids.filter((_, i) => !rs[i]).join(', ')})` });
    else out.push({ name, ...f(...(rs as Row[])) });
  };
  const v = (name: string, have: boolean, f: () => Omit<Target, 'name'>, needs: string) => {
    out.push(have ? { name, ...f() } : { name, measured: '—', holds: undefined, detail: `not measured in this run (needs ${needs})` });
  };
  const rate = (want: number, a: Row, detail: string): Omit<Target, 'name'> => {
    const holds = a.rps >= want;
    return { measured: `${fmt(a.rps)} req/s`, holds, detail: holds ? detail : `${detail}. ${rateNeed(a, want, x)}` };
  };

  t('`none` GET, fsync: ≥ 1.0× squid req/s (moonshot)', ['gate-none', 'squid-get'], (a, s) => ({ ...rate(s.rps, a, `${ratio(a.rps, s.rps)} squid (${fmt(s.rps)} req/s, ${us(s.proxyCpuUsPerReq)} CPU/req)`), measured: `${ratio(a.rps, s.rps)} squid` }));
  t('`none` GET, fsync: ≥ 0.75× the bare forwarder req/s', ['gate-none', 'bare-get'], (a, b) => ({ ...rate(0.75 * b.rps, a, `${fmt(a.rps)} vs ${fmt(b.rps)} req/s`), measured: `${ratio(a.rps, b.rps)} bare` }));
  t('`none` GET: gate CPU/req ≤ 1.5× the bare forwarder\'s', ['gate-none', 'bare-get'], (a, b) => {
    const lim = 1.5 * (b.proxyCpuUsPerReq ?? NaN);
    const holds = (a.proxyCpuUsPerReq ?? Infinity) <= lim;
    return { measured: `${us(a.proxyCpuUsPerReq)} vs ${us(b.proxyCpuUsPerReq)} (${ratio(a.proxyCpuUsPerReq ?? NaN, b.proxyCpuUsPerReq ?? NaN)})`, holds,
      detail: holds ? cpuSplit(a, x) : `${cpuSplit(a, x)}; the bare forwarder's ${us(b.proxyCpuUsPerReq)} is all one thread. It takes ${us((a.proxyCpuUsPerReq ?? 0) - lim)}/req less: the main thread's per-request work and the writer's commit (one checkpoint signature and one fdatasync per commit, shared by its lines)` };
  });
  t('fresh single-use permits: CPU/req ≤ bare + one signature verification + 40 µs', ['gate-permit', 'bare-get-node'], (a, b) => {
    const lim = (b.proxyCpuUsPerReq ?? NaN) + (x.floor?.verifyUs ?? NaN) + 40;
    const holds = (a.proxyCpuUsPerReq ?? Infinity) <= lim;
    return { measured: `${us(a.proxyCpuUsPerReq)} vs limit ${us(lim)}`, holds,
      detail: `limit = bare ${us(b.proxyCpuUsPerReq)} + Ed25519 verify ${us(x.floor?.verifyUs)} (node:crypto) + 40 µs; the gate's permit checker alone costs ${us(x.floor?.permitCheckCpuUs)} of CPU per check in process${x.floor?.permitCheckEs256CpuUs ? ` (ES256 issuer: ${us(x.floor.permitCheckEs256CpuUs)}, bare P-256 verify ${us(x.floor.verifyEs256Us)})` : ''}${joseNote(x.floor)}; ${cpuSplit(a, x)}${holds ? '' : `. It takes ${us((a.proxyCpuUsPerReq ?? 0) - lim)}/req less`}` };
  });
  t('fresh single-use permits: ≥ 0.35× the bare forwarder req/s', ['gate-permit', 'bare-get-node'], (a, b) => ({ ...rate(0.35 * b.rps, a, `${fmt(a.rps)} vs ${fmt(b.rps)} req/s, same Node generator`), measured: `${ratio(a.rps, b.rps)} bare` }));
  t('intercepted HTTPS keep-alive with permits: ≥ 5× mitmproxy (moonshot 10×)', ['gate-tls-ka', 'mitm-tls-ka'], (a, m) => ({ ...rate(5 * m.rps, a, `${fmt(a.rps)} vs ${fmt(m.rps)} req/s${a.rps >= 10 * m.rps ? '; the 10× moonshot holds too' : ''}`), measured: `${(a.rps / m.rps).toFixed(1)}× mitmproxy` }));
  t('new intercepted TLS connections: ≥ 3× mitmproxy', ['gate-tls-new', 'mitm-tls-new'], (a, m) => ({ ...rate(3 * m.rps, a, `${fmt(a.rps)} vs ${fmt(m.rps)} conn/s; the Node generator used ${Math.round((a.genCpu ?? NaN) * 100)} % of a core`), measured: `${(a.rps / m.rps).toFixed(1)}× mitmproxy` }));
  const added = (name: string, gate: string, direct: string, limUs: number, also?: string) => t(name, [gate, direct], (a, d) => {
    const add = a.p50 - d.p50;
    const holds = add <= limUs;
    const other = also ? g(also) : undefined;
    return { measured: `${ms(add)} (p99 ${ms(a.p99 - d.p99)})`, holds,
      detail: `gate p50 ${ms(a.p50)} − direct ${ms(d.p50)}${other ? `; with receipts durability none: p50 ${ms(other.p50)}, added ${ms(other.p50 - d.p50)} (the rest of ${ms(add)} is the decision entry's fdatasync, which SPEC §9 puts before the request leaves)` : ''}; ${cpuSplit(a, x)}` };
  });
  added('p50 added at 1 connection ≤ 0.3 ms (`none` route)', 'gate-none-c1', 'direct-get-c1', 300, 'gate-none-c1-nosync');
  added('p50 added at 1 connection ≤ 0.5 ms (with a permit)', 'gate-permit-c1', 'direct-get-node-c1', 500);
  t('p50 added at 16 connections ≤ 1 ms', ['gate-none', 'direct-get'], (a, d) => {
    const add = a.p50 - d.p50;
    return { measured: ms(add), holds: add <= 1000, detail: `gate p50 ${ms(a.p50)} − direct ${ms(d.p50)}; 16 closed-loop connections at ${fmt(a.rps)} req/s wait ${ms(16 / a.rps * 1e6)} each (Little's law), so ≤ 1 ms added needs ≥ ${fmt(16 / ((1000 + d.p50) / 1e6))} req/s: it falls with the throughput targets` };
  });
  const idle = x.streams?.idle;
  v('idle RSS ≤ 60 MiB', !!idle?.gate, () => ({ measured: mib(idle!.gate!.idleRssMiB), holds: idle!.gate!.idleRssMiB <= 60,
    detail: `VmRSS of the gate as started (bench config, no request yet)${idle!.gate!.idleHeap ? `: V8 heap total ${mib(idle!.gate!.idleHeap.totalMiB)} (used ${mib(idle!.gate!.idleHeap.usedMiB)}), external ${mib(idle!.gate!.idleHeap.externalMiB)}, the rest the node binary's pages, compiled code and native allocations` : ''}; the bare forwarder as started: ${mib(idle?.bare?.idleRssMiB)} (it runs under tsx)` }), 'idle-gate');
  t('peak RSS ≤ 100 MiB at 64 connections', ['gate-none-c64'], (a) => {
    const b = g('bare-get');
    return { measured: mib(a.proxyPeakRssMiB), holds: (a.proxyPeakRssMiB ?? Infinity) <= 100, detail: `VmHWM over the run; the bare forwarder peaks at ${mib(b?.proxyPeakRssMiB)} at 16 connections` };
  });
  v('1,000 idle keep-alive client connections add ≤ 20 MiB', !!idle?.gate, () => ({ measured: mib(idle!.gate!.addedMiB), holds: idle!.gate!.addedMiB <= 20,
    detail: `VmRSS ${mib(idle!.gate!.beforeMiB)} → ${mib(idle!.gate!.afterMiB)} with ${idle!.gate!.connections} connections each kept alive after one GET${idle!.gate!.heap ? ` (V8 heap total +${mib(idle!.gate!.heap.totalMiB)}, of it used +${mib(idle!.gate!.heap.usedMiB)}; external +${mib(idle!.gate!.heap.externalMiB)}; the rest is native: sockets, HTTP parsers, allocator slack)` : ''}; the bare forwarder: +${mib(idle?.bare?.addedMiB)}` }), 'idle-gate');
  const dl = x.streams?.download;
  v('100 MB download through the gate ≥ 0.5× the bare forwarder\'s throughput', !!(dl?.gate && dl.bare), () => ({ measured: `${fmt(dl!.gate)} MB/s (${ratio(dl!.gate!, dl!.bare!)} bare)`, holds: dl!.gate! >= 0.5 * dl!.bare!,
    detail: `${((x.streams!.downloadBytes) / 1e6).toFixed(0)} MB over one connection: gate ${fmt(dl!.gate)} MB/s, bare forwarder ${fmt(dl!.bare)} MB/s, direct ${fmt(dl!.direct)} MB/s (Node origin)` }), 'download-gate, download-bare');
  const sse = x.streams?.sse;
  v('SSE events forwarded within 1 ms of arrival', !!(sse?.gate && sse.direct), () => {
    const [gs, ds] = [sse!.gate!, sse!.direct!];
    return { measured: `added p50 ${us(gs.p50 - ds.p50)}, p99 ${us(gs.p99 - ds.p99)}`, holds: gs.p99 - ds.p99 <= 1000,
      detail: `origin write → client receipt over ${gs.events} events: through the gate p50 ${us(gs.p50)} / p99 ${us(gs.p99)} (max ${us(gs.max)}), direct p50 ${us(ds.p50)} / p99 ${us(ds.p99)}, bare forwarder p50 ${us(sse?.bare?.p50)} / p99 ${us(sse?.bare?.p99)}; judged on the p99 the gate adds to direct` };
  }, 'sse-gate, sse-direct');
  t('10,000 routes decide within 1.1× of 10', ['gate-none-10k', 'gate-none'], (a, b) => {
    const loaded = `under load, mean arrival→decision ${us(a.decisionUs)} vs ${us(b.decisionUs)} (GC and event-loop queueing move it ±30 % run to run)`;
    if (!x.decision) return { measured: ratio(a.decisionUs ?? NaN, b.decisionUs ?? NaN), holds: (a.decisionUs ?? Infinity) <= 1.1 * (b.decisionUs ?? 0), detail: loaded };
    const r = x.decision.tenK / x.decision.ten;
    return { measured: `${r.toFixed(2)}×`, holds: r <= 1.1, detail: `in process, normalize + match of the bench request: ${x.decision.tenK} ns vs ${x.decision.ten} ns (median of 5 interleaved runs); ${loaded}` };
  });
  const p = x.proofs ?? [];
  v('receipt-log proofs at 10 million entries within 2× of 10 thousand', p.length >= 2, () => {
    const lo = p[0]!; const hi = p[p.length - 1]!;
    const worst = Math.max(hi.proofUs / lo.proofUs, hi.proofIdUs / lo.proofIdUs, hi.consUs / lo.consUs);
    const size = (s: ProofScale) => `${fmt(s.n)} entries (${(s.logBytes / 1e9).toFixed(2)} GB log + ${(s.indexBytes / 1e6).toFixed(0)} MB index): inclusion by seq ${us(s.proofUs)}, by id ${us(s.proofIdUs)}, consistency ${us(s.consUs)}, open ${s.openIndexMs.toFixed(0)} ms`;
    return { measured: `${worst.toFixed(2)}× (worst of three proofs)`, holds: worst <= 2 && hi.n >= 10_000_000 ? true : worst <= 2 ? undefined : false,
      detail: `${p.map(size).join('; ')}${hi.n < 10_000_000 ? `. Largest size measured here ${fmt(hi.n)} (quick run or --proof-sizes): a proof reads O(log n) nodes of the index, so from ${fmt(lo.n)} to 10 million it adds ${Math.ceil(Math.log2(1e7 / lo.n))} levels` : ''}` };
  }, 'receipt-log-scale.ts at two sizes');
  return out;
}

/** The targets as a markdown table. */
export function targetsMarkdown(ts: Target[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| target (issue 14) | measured | verdict | measured reason; what it would take |', '|---|---|---|---|',
    ...ts.map((t) => `| ${cell(t.name)} | ${cell(t.measured)} | ${t.holds === undefined ? 'n/a' : t.holds ? '**holds**' : '**misses**'} | ${cell(t.detail)} |`), ''].join('\n');
}
