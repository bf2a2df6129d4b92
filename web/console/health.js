// Health and evidence: readiness (/readyz), the newest checkpoint, and small charts drawn here
// from /metrics every few seconds: seconds since the last commit, fsync latency, decisions per reason.
import { $, clear, el, kv, tree } from './dom.js';
import { api, apiText } from './api.js';
import { parsePrometheus, total } from './prom-text.js';

const SVG = 'http://www.w3.org/2000/svg';
const POINTS = 60;
const EVERY_MS = 2000;
const series = { commit: [], fsync: [] };
let last;
let timer;

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function lineChart(node, values, unit) {
  const w = 300, h = 100;
  const s = svg('svg', { viewBox: `0 0 ${w} ${h + 16}`, role: 'img', 'aria-label': `${values.length} samples` });
  s.append(svg('line', { class: 'axis', x1: 0, y1: h, x2: w, y2: h }));
  const max = Math.max(...values, 1e-9);
  if (values.length > 1) {
    const pts = values.map((v, i) => `${(i / (POINTS - 1)) * w},${h - (v / max) * (h - 4)}`).join(' ');
    s.append(svg('polyline', { class: 'line', points: pts }));
  }
  const t = svg('text', { x: 2, y: h + 13 });
  t.textContent = values.length ? `now ${values.at(-1).toFixed(2)} ${unit} · max ${max.toFixed(2)} ${unit}` : 'no samples yet';
  s.append(t);
  clear(node).append(s);
}

function barChart(node, pairs) {
  const w = 300, row = 18;
  const s = svg('svg', { viewBox: `0 0 ${w} ${Math.max(1, pairs.length) * row + 4}`, role: 'img', 'aria-label': `${pairs.length} reasons` });
  const max = Math.max(...pairs.map(([, v]) => v), 1);
  pairs.forEach(([name, v], i) => {
    const y = i * row + 2;
    s.append(svg('rect', { class: 'bar', x: 150, y, width: Math.max(1, (v / max) * 120), height: row - 4 }));
    const label = svg('text', { x: 0, y: y + row - 7, 'data-reason': name });
    label.textContent = name;
    const count = svg('text', { x: 150 + (v / max) * 120 + 4, y: y + row - 7 });
    count.textContent = String(v);
    s.append(label, count);
  });
  clear(node).append(pairs.length ? s : el('p', { text: 'no decisions yet' }));
}

async function sample() {
  const samples = parsePrometheus(await apiText('/metrics'));
  const age = samples.find((s) => s.name === 'egress_gate_receipt_last_commit_age_seconds');
  if (age) series.commit.push(age.value);
  const sum = total(samples, 'egress_gate_receipt_fsync_duration_seconds_sum');
  const count = total(samples, 'egress_gate_receipt_fsync_duration_seconds_count');
  // Only samples with commits in them: an idle gate does not fsync, which is not a latency of 0.
  if (last && count > last.count) series.fsync.push(((sum - last.sum) / (count - last.count)) * 1000);
  last = { sum, count };
  for (const k of Object.keys(series)) while (series[k].length > POINTS) series[k].shift();
  const reasons = new Map();
  for (const s of samples) if (s.name === 'egress_gate_decisions_total') reasons.set(s.labels.reason, (reasons.get(s.labels.reason) ?? 0) + s.value);
  lineChart($('chart-commit'), series.commit, 's');
  lineChart($('chart-fsync'), series.fsync, 'ms');
  barChart($('chart-reasons'), [...reasons].sort((a, b) => b[1] - a[1]));
}

async function refresh() {
  const res = await api('/readyz');
  const r = await res.json();
  clear($('health-ready')).append(kv([
    ['ready', r.ready ? 'yes' : 'NO'], ['mode', r.mode], ['route maps', tree(r.policy)], ['issuer keys', r.keys?.ready ? 'available' : 'NOT available'],
    ['receipt log', r.receipts?.writable ? 'writable' : 'NOT writable'], ['report mode', tree(r.report)],
  ]));
  const cp = await apiText('/receipts/checkpoint').catch((e) => e.message);
  $('health-checkpoint').textContent = cp;
  await sample();
}

export async function showHealth() {
  stopHealth();
  await refresh();
  timer = setInterval(() => { refresh().catch(() => undefined); }, EVERY_MS);
}

export function stopHealth() {
  clearInterval(timer);
  timer = undefined;
}
