/**
 * The approval page (SPEC §12 approvers): server-rendered HTML on the arbiter's listener, no
 * script, no CDN, under a strict CSP. An approver signs in with their token (kept in an
 * HttpOnly, SameSite=Strict cookie); each form carries a CSRF value derived from that token.
 * Every value shown is HTML-escaped.
 */
import { createHash, randomBytes } from 'node:crypto';

export const APPROVER_COOKIE = 'eg_approver';

export function csrfOf(token: string): string {
  return createHash('sha256').update(`egress-arbiter-csrf\0${token}`).digest('base64url');
}

function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Page {
  html: string;
  csp: string;
}

function page(title: string, body: string): Page {
  const nonce = randomBytes(16).toString('base64');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">body{font:15px system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:left;vertical-align:top}code{font-size:13px}form{display:inline}button{margin-right:.3rem}</style>
</head><body>${body}</body></html>`;
  return { html, csp: `default-src 'none'; style-src 'nonce-${nonce}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'` };
}

export function signInPage(message = ''): Page {
  return page('egress-gate arbiter — sign in', `<h1>Approvals</h1>${message ? `<p role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/ui/sign-in"><label>Approver token <input type="password" name="token" id="token" autocomplete="off" required></label>
<button type="submit" id="sign-in">Sign in</button></form>`);
}

export function approvalsPage(approver: string, csrf: string, waiting: Record<string, unknown>[], message = ''): Page {
  const rows = waiting.map((w) => {
    const req = w.request as { method: string; url: string };
    const id = esc(w.request_id);
    const form = (approve: boolean) => `<form method="post" action="/ui/approvals/${id}"><input type="hidden" name="csrf" value="${esc(csrf)}"><input type="hidden" name="approve" value="${approve}"><button type="submit" data-request="${id}" data-action="${approve ? 'approve' : 'deny'}">${approve ? 'Approve' : 'Deny'}</button></form>`;
    return `<tr data-request="${id}"><td><code>${esc(req.method)} ${esc(req.url)}</code><br><small>gate ${esc(w.gate)} · ${id}</small></td>
<td>${esc(w.surface)} / ${esc(w.action)}</td><td>${esc(w.subject)}</td><td>${esc(w.reason ?? '')}</td>
<td>${esc((w.approvals as string[]).length)} of ${esc(w.approvals_needed)}</td><td>${esc(w.expires_at)}</td><td>${form(true)}${form(false)}</td></tr>`;
  }).join('\n');
  return page('egress-gate arbiter — approvals', `<h1>Waiting for a decision</h1><p>Signed in as <b>${esc(approver)}</b>.</p>${message ? `<p role="status">${esc(message)}</p>` : ''}
${waiting.length === 0 ? '<p id="empty">Nothing waits.</p>' : `<table><thead><tr><th>request</th><th>surface / action</th><th>caller</th><th>reason given</th><th>approvals</th><th>expires</th><th></th></tr></thead><tbody>
${rows}</tbody></table>`}`);
}
