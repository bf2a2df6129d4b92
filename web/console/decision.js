// One decision: its entries (decision and outcomes), the permit's facts (never the token),
// the matched route with its file:line, and its inclusion proof checked here (tlog-verify.js).
import { $, callText, clear, decisionCell, el, kv, tree } from './dom.js';
import { apiJson, apiText } from './api.js';
import { verifyProof } from './tlog-verify.js';

function proofStatus(verified, text) {
  const p = $('proof-status');
  p.dataset.verified = String(verified);
  p.textContent = text;
}

export async function showDecision(id) {
  $('decision-id').textContent = id ?? '';
  for (const n of ['decision-summary', 'decision-route', 'decision-entries']) clear($(n));
  proofStatus('pending', 'checking the inclusion proof…');
  if (!id) return;
  const got = await apiJson(`/console/api/decision?id=${encodeURIComponent(id)}`);
  const e = got.entry;
  const req = e.request ?? {};
  $('decision-summary').append(kv([
    ['decision', el('span', {}, decisionCell(e.decision), e.enforced ? null : el('span', { class: 'badge report', text: 'report mode: not enforced' }))],
    ['reason', e.reason], ['time', e.ts], ['request', `${req.method ?? ''} ${req.url ?? ''}`],
    ['query', req.query_sha256 ? `sha256 ${req.query_sha256} (the query itself is never recorded)` : 'none'],
    ['body', req.body_sha256 ? `sha256 ${req.body_sha256}` : '—'],
    ['JSON-RPC call', e.jsonrpc ? callText(e.jsonrpc) : '—'],
    ['surface / action', e.surface ? `${e.surface} / ${e.action}` : '—'],
    ['permit', e.permit ? tree(e.permit) : 'none'], ['txn', e.txn], ['exception', e.exception], ['credential', e.credential],
    ['policy', e.policy ? `${e.policy.version} (${e.policy.digest})` : '—'], ['receipt', `${e.id} (seq ${e.seq})`],
  ]));
  const r = got.route;
  $('decision-route').append(r
    ? kv([['route', `${r.surface} / ${r.action}`], ['where', r.where], ['authorize', r.authorize], ['mode', r.mode], ['must_enforce', String(r.must_enforce)],
      ['policy', r.same_version ? `${r.policy_version} (the version this was decided under)` : `${r.policy_version} (now in effect; the decision was made under another version)`]])
    : el('p', { text: 'no route of the policy in effect has this surface/action' }));
  for (const entry of [e, ...got.outcomes]) $('decision-entries').append(el('h4', { text: `${entry.kind} · seq ${entry.seq}` }), tree(entry));
  try {
    const [key, proof] = await Promise.all([apiText('/receipts/key'), apiText(`/receipts/proof?id=${encodeURIComponent(id)}`)]);
    const v = await verifyProof(proof, key);
    if (v.entry.id !== e.id || v.index !== e.seq) throw new Error('the proof is of another entry');
    if (v.entry.decision !== e.decision || v.entry.reason !== e.reason) throw new Error('the proven entry does not say what the log view says');
    proofStatus(true, `Verified: included in the log at size ${v.size}, checkpoint signed by ${v.signer}`);
  } catch (err) {
    proofStatus(false, `NOT verified: ${err.message}`);
  }
}
