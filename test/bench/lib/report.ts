/**
 * Turns the runs into the summary: medians over rounds, ratios to direct and to the bare
 * forwarder, a markdown table (the targets table comes from targets.ts) and a hand-written
 * SVG bar chart (no dependencies).
 */
import { fmt, ms, us, targetsMarkdown, type Target } from './targets.js';

export interface RunRecord {
  id: string; round: number; rps: number; requests: number; seconds: number; errors: number; non2xx: number;
  p50: number; p99: number; p999: number; genCpu?: number; proxyCpuUsPerReq?: number; proxyPeakRssMiB?: number;
  decisionUs?: number; permitsExhausted?: boolean; firstError?: string;
  /** Proxy CPU per request by thread group (main, then thread names), µs. */
  threadUsPerReq?: Record<string, number>;
  /** The gate's mean fdatasync (µs) and receipt entries per fdatasync over the window. */
  fsyncUs?: number; linesPerFsync?: number;
}

export interface ScenarioInfo { id: string; label: string; gen: string; connections: number; direct?: string; baseline?: string; kind: string }

export interface Row extends ScenarioInfo {
  rounds: number; rps: number; rpsMin: number; rpsMax: number; xDirect?: number; xBaseline?: number;
  p50: number; p99: number; p999: number; proxyCpuUsPerReq?: number; proxyPeakRssMiB?: number; genCpu?: number;
  decisionUs?: number; errors: number; non2xx: number; notes: string[]; threadUsPerReq?: Record<string, number>;
  fsyncUs?: number; linesPerFsync?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const medianOpt = (xs: (number | undefined)[]): number | undefined => {
  const d = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return d.length ? median(d) : undefined;
};

export function summarize(scenarios: ScenarioInfo[], runs: RunRecord[]): Row[] {
  const rows: Row[] = [];
  for (const s of scenarios) {
    const rs = runs.filter((r) => r.id === s.id);
    if (!rs.length) continue;
    const notes: string[] = [];
    if (rs.some((r) => r.permitsExhausted)) notes.push('permits ran out early in a round (rate is over the time used)');
    const err = rs.find((r) => r.firstError)?.firstError;
    if (err) notes.push(`first error: ${err}`);
    rows.push({
      ...s, rounds: rs.length, rps: median(rs.map((r) => r.rps)), rpsMin: Math.min(...rs.map((r) => r.rps)), rpsMax: Math.max(...rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), p999: median(rs.map((r) => r.p999)),
      proxyCpuUsPerReq: medianOpt(rs.map((r) => r.proxyCpuUsPerReq)),
      proxyPeakRssMiB: rs.some((r) => r.proxyPeakRssMiB !== undefined) ? Math.max(...rs.map((r) => r.proxyPeakRssMiB ?? 0)) : undefined,
      genCpu: medianOpt(rs.map((r) => r.genCpu)), decisionUs: medianOpt(rs.map((r) => r.decisionUs)),
      fsyncUs: medianOpt(rs.map((r) => r.fsyncUs)), linesPerFsync: medianOpt(rs.map((r) => r.linesPerFsync)),
      ...(rs.some((r) => r.threadUsPerReq) ? { threadUsPerReq: Object.fromEntries([...new Set(rs.flatMap((r) => Object.keys(r.threadUsPerReq ?? {})))].map((k) => [k, medianOpt(rs.map((r) => r.threadUsPerReq?.[k])) ?? 0])) } : {}),
      errors: rs.reduce((a, r) => a + r.errors, 0), non2xx: rs.reduce((a, r) => a + r.non2xx, 0), notes,
    });
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const r of rows) {
    if (r.direct && byId.get(r.direct)) r.xDirect = r.rps / byId.get(r.direct)!.rps;
    if (r.baseline && byId.get(r.baseline)) r.xBaseline = r.rps / byId.get(r.baseline)!.rps;
  }
  return rows;
}

const x = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(2)}×`);
const pct = (v: number | undefined): string => (v === undefined ? '—' : `${Math.round(v * 100)} %`);

export function markdown(rows: Row[], ts: Target[]): string {
  const head = '| scenario | gen | conns | req/s (median) | min–max | × direct | × baseline | p50 | p99 | p99.9 | proxy CPU µs/req | proxy peak RSS | gen CPU | decision | errors/non-2xx |';
  const lines = [head, `|${head.split('|').slice(1, -1).map(() => '---').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${r.label} | ${r.gen} | ${r.connections} | ${fmt(r.rps)} | ${fmt(r.rpsMin)}–${fmt(r.rpsMax)} | ${x(r.xDirect)} | ${x(r.xBaseline)} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p999)} | ${r.proxyCpuUsPerReq === undefined ? '—' : r.proxyCpuUsPerReq.toFixed(0)} | ${r.proxyPeakRssMiB === undefined ? '—' : `${r.proxyPeakRssMiB.toFixed(0)} MiB`} | ${pct(r.genCpu)} | ${us(r.decisionUs)} | ${r.errors}/${r.non2xx} |`);
  }
  const notes = rows.filter((r) => r.notes.length).map((r) => `- ${r.label}: ${r.notes.join('; ')}`);
  return [...lines, '', ...(notes.length ? ['Notes:', ...notes, ''] : []), 'Targets of issue 14, as this run measured them:', '', targetsMarkdown(ts)].join('\n');
}

const COLORS: Record<string, string> = { direct: '#7f8c8d', bare: '#2980b9', gate: '#c0392b', squid: '#8e44ad', mitm: '#d35400' };

/** A horizontal bar chart of median req/s, one bar per scenario, min–max as a whisker. */
export function svg(rows: Row[], title: string): string {
  const W = 960; const left = 300; const right = 110; const rowH = 22; const top = 40;
  const max = Math.max(...rows.map((r) => r.rpsMax), 1);
  const sx = (v: number) => left + (v / max) * (W - left - right);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const H = top + rows.length * rowH + 30;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y + 14}" text-anchor="end">${esc(r.label)}</text>`);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, sx(r.rps) - left).toFixed(1)}" height="${rowH - 6}" fill="${COLORS[r.kind] ?? '#555'}"/>`);
    parts.push(`<line x1="${sx(r.rpsMin).toFixed(1)}" x2="${sx(r.rpsMax).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="black"/>`);
    parts.push(`<text x="${(sx(r.rpsMax) + 6).toFixed(1)}" y="${y + 14}">${fmt(r.rps)}</text>`);
  });
  parts.push(`<text x="${left}" y="${H - 8}" fill="#555">req/s, median of rounds (whisker: min–max). grey direct, blue bare undici proxy, red egress-gate, purple squid, orange mitmproxy</text>`, '</svg>');
  return parts.join('\n');
}
