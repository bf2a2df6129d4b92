// Routes: the route maps in effect by surface and action, report mode and must_enforce, the
// exceptions (expired ones marked), the policy version and digest, the last refused reload.
import { $, clear, el, kv } from './dom.js';
import { apiJson } from './api.js';

const SHOWN = ['methods', 'scheme', 'host', 'ports', 'path'];

/** Match fields beyond method, scheme, host, port and path (a JSON-RPC method, …), generically. */
function moreMatch(m) {
  const rest = Object.fromEntries(Object.entries(m).filter(([k]) => !SHOWN.includes(k)));
  return Object.keys(rest).length === 0 ? '' : JSON.stringify(rest);
}

export async function showRoutes() {
  const v = await apiJson('/console/api/routes');
  const p = v.policy;
  clear($('routes-policy')).append(kv([
    ['policy version', p.version], ['digest', p.digest], ['source', p.source], ['loaded', String(p.loaded)], ['fresh', String(p.fresh)],
    ['gate mode', v.gate_mode], ['bundle unreachable', p.unreachable ? `${p.unreachable.since}: ${p.unreachable.error}` : null],
  ]));
  const refused = $('routes-refused');
  refused.hidden = !p.refused;
  refused.textContent = p.refused ? `Last reload refused at ${p.refused.at} (the version above still serves): ${p.refused.error}` : '';
  const surfaces = clear($('routes-surfaces'));
  for (const s of v.surfaces) {
    const body = el('tbody');
    for (const r of s.routes) {
      const m = r.match;
      body.append(el('tr', { 'data-route': `${r.surface}/${r.action}`, 'data-mode': r.mode },
        el('td', {}, el('b', { text: r.action }), r.report ? el('span', { class: 'badge report', text: 'report' }) : el('span', { class: 'badge enforce', text: 'enforce' }), r.must_enforce ? el('span', { class: 'badge', text: 'must_enforce' }) : null),
        el('td', {}, el('code', { text: `${Array.isArray(m.methods) ? m.methods.join(',') : m.methods} ${m.scheme ?? '*'}://${m.host}${m.ports ? `:${Array.isArray(m.ports) ? m.ports.join(',') : m.ports}` : ''}${m.path}` })),
        el('td', { text: r.authorize }),
        el('td', { class: 'wide', text: [r.single_use && 'single_use', r.bind_body && 'bind_body', r.bind_query && 'bind_query', r.tunnel && 'tunnel', r.credential && `credential ${r.credential.header}`].filter(Boolean).join(', ') || '—' }),
        el('td', { class: 'wide mono', text: r.where }),
        el('td', { class: 'wide mono', text: moreMatch(m) })));
    }
    surfaces.append(el('h3', { text: `surface ${s.surface}` }), el('div', { class: 'scroll' }, el('table', {},
      el('thead', {}, el('tr', {}, ...['action', 'match', 'authorize', 'binds', 'where', 'more'].map((h, i) => el('th', { class: i >= 3 ? 'wide' : undefined, text: h })))), body)));
  }
  const ex = clear($('routes-exceptions'));
  for (const e of v.exceptions) {
    ex.append(el('tr', { 'data-exception': e.id, 'data-expired': String(e.expired) },
      el('td', { text: e.id }), el('td', { text: `${e.surface} / ${e.action}` }),
      el('td', {}, e.expires, el('span', { class: `badge ${e.expired ? 'expired' : 'active'}`, text: e.expired ? 'expired' : 'active' })),
      el('td', { text: e.approved_by.join(', ') }), el('td', { text: e.reason }), el('td', { class: 'wide mono', text: e.where })));
  }
  if (v.exceptions.length === 0) ex.append(el('tr', {}, el('td', { colspan: 6, text: 'none' })));
}
