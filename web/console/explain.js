// Explain: the gate's offline decision chain for a request typed here (POST /console/api/explain
// runs the same function as `egress-gate explain`); the answer is rendered generically.
import { $, callText, clear, decisionCell, el, tree } from './dom.js';
import { apiJson, NeedsToken } from './api.js';

let wired = false;

async function run() {
  $('explain-error').textContent = '';
  const body = {
    method: $('explain-method').value.trim(), url: $('explain-url').value.trim(),
    headers: $('explain-headers').value, body: $('explain-body').value, permit: $('explain-permit').value.trim(),
  };
  const out = await apiJson('/console/api/explain', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  $('explain-result').hidden = false;
  clear($('explain-decision')).append(decisionCell(out.decision), ` ${out.reason} — ${out.detail}`, out.enforced ? '' : ' (report mode: not enforced)', out.would_forward ? ' · would forward' : ' · would not forward');
  clear($('explain-request')).append(
    out.jsonrpc ? el('p', { class: 'jsonrpc', text: `JSON-RPC call: ${callText(out.jsonrpc)}` }) : '',
    tree(out.request));
  clear($('explain-route')).append(out.route ? tree(out.route) : el('p', { text: 'no route matched' }));
  const checks = clear($('explain-checks'));
  for (const c of out.checks) checks.append(el('tr', {}, el('td', { text: c.check }), el('td', { text: c.result })));
  $('explain-json').textContent = JSON.stringify(out, null, 2);
}

export async function showExplain() {
  if (wired) return;
  wired = true;
  $('explain-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    run().catch((e) => { if (!(e instanceof NeedsToken)) $('explain-error').textContent = e.message; });
  });
}
