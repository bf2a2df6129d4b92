// Live decisions: the gate's event stream (read with fetch, so the token goes in a header),
// the newest KEEP kept in the page, older ones from the log on demand, filters and pause.
import { $, callText, clear, decisionCell, el } from './dom.js';
import { api, apiJson, authHeaders, NeedsToken } from './api.js';

const KEEP = 500;
const rows = []; // newest first: { receipt, seq, ts, method, url, surface, action, decision, reason, enforced, outcome }
const byId = new Map();
let started = false;
let paused = false;
let missed = 0;
let dropped = 0;
let connected = false;

function hostPath(url) {
  if (!url) return { host: '', path: '' };
  try {
    const u = new URL(url);
    return { host: u.host, path: u.pathname };
  } catch {
    return { host: '', path: url };
  }
}

function filters() {
  return {
    decision: $('f-decision').value,
    reason: $('f-reason').value.trim().toUpperCase(),
    surface: $('f-surface').value.trim().toLowerCase(),
    host: $('f-host').value.trim().toLowerCase(),
    report: $('f-report').checked,
  };
}

function shown(r, f) {
  if (f.decision && r.decision !== f.decision) return false;
  if (f.reason && !r.reason.includes(f.reason)) return false;
  if (f.surface && !(r.surface ?? '').toLowerCase().includes(f.surface)) return false;
  if (f.host && !hostPath(r.url).host.toLowerCase().includes(f.host)) return false;
  if (f.report && r.enforced) return false;
  return true;
}

function rowEl(r) {
  const { host, path } = hostPath(r.url);
  const o = r.outcome;
  const tr = el('tr', { 'data-receipt': r.receipt ?? '', 'data-decision': r.decision, 'data-reason': r.reason },
    el('td', { class: 'mono', text: new Date(r.ts).toLocaleTimeString() }),
    el('td', {}, el('code', { text: `${r.method ?? ''} ${host}${path}` }), r.jsonrpc ? el('span', { class: 'jsonrpc', text: ` ${callText(r.jsonrpc)}` }) : null),
    el('td', { text: r.surface ? `${r.surface} / ${r.action}` : '—' }),
    el('td', {}, decisionCell(r.decision), r.enforced ? null : el('span', { class: 'badge report', text: 'report' })),
    el('td', { class: 'reason', text: r.reason }),
    el('td', { class: 'wide', text: r.enforced ? 'yes' : 'no' }),
    el('td', { text: o ? (o.status ?? o.error ?? '—') : '' }),
    el('td', { class: 'wide mono', text: o ? `${o.bytes_up} / ${o.bytes_down}` : '' }),
    el('td', { class: 'wide mono', text: r.receipt ? r.receipt.slice(-12) : 'none (not recorded)' }));
  if (r.receipt) tr.addEventListener('click', () => { location.hash = `#decision/${r.receipt}`; });
  return tr;
}

function render() {
  if (paused) return;
  const f = filters();
  const body = clear($('live-rows'));
  for (const r of rows) if (shown(r, f)) body.append(rowEl(r));
  status();
}

function status() {
  const parts = [connected ? 'live' : 'connecting…', `${rows.length} kept (newest ${KEEP})`];
  if (paused) parts.push(`paused: ${missed} new not shown`);
  if (dropped > 0) parts.push(`${dropped} events dropped by the gate for this page (it read too slowly); older ones are in the log`);
  $('live-status').textContent = parts.join(' · ');
}

function add(r, newest) {
  if (r.receipt && byId.has(r.receipt)) return;
  if (r.receipt) byId.set(r.receipt, r);
  if (newest) rows.unshift(r); else rows.push(r);
  while (rows.length > KEEP) { const old = rows.pop(); if (old.receipt) byId.delete(old.receipt); }
}

function onEvent(type, data) {
  if (type === 'decision') {
    add({ ...data, outcome: null }, true);
    if (paused) missed++;
  } else if (type === 'outcome') {
    const r = byId.get(data.of);
    if (r) r.outcome = data;
  } else if (type === 'dropped') {
    dropped += data.dropped;
  } else if (type === 'hello') {
    connected = true;
  }
  render();
}

/** Reads the text/event-stream body of a fetch, event by event. */
async function stream() {
  for (;;) {
    try {
      const res = await fetch('/console/api/events', { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
      if (res.status === 401) { await api('/console/api/events'); return; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let type = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) onEvent(type, JSON.parse(data));
        }
      }
    } catch (e) {
      if (e instanceof NeedsToken) return;
    }
    connected = false;
    status();
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function older() {
  const known = rows.map((r) => r.seq).filter((s) => typeof s === 'number');
  const before = known.length > 0 ? Math.min(...known) : undefined;
  const { decisions } = await apiJson(`/console/api/decisions?limit=50${before === undefined ? '' : `&before=${before}`}`);
  for (const r of decisions) add(r, false);
  render();
}

export async function showLive() {
  if (started) { render(); return; }
  started = true;
  for (const id of ['f-decision', 'f-reason', 'f-surface', 'f-host', 'f-report']) $(id).addEventListener('input', render);
  $('filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('pause').addEventListener('click', () => {
    paused = !paused;
    missed = 0;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    $('pause').setAttribute('aria-pressed', String(paused));
    if (!paused) render(); else status();
  });
  $('older').addEventListener('click', () => { older().catch((e) => { if (!(e instanceof NeedsToken)) $('live-status').textContent = e.message; }); });
  status();
  void stream();
  // The newest from the log, behind the stream (which started first: nothing falls between).
  await older().catch((e) => { if (e instanceof NeedsToken) started = false; else throw e; });
}
