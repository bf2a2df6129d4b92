// Fetches to the admin listener, with the admin token when there is one (kept in
// sessionStorage: this tab only). A 401 shows the sign-in form.
import { $ } from './dom.js';

const TOKEN_KEY = 'egress-gate-admin-token';

/** An answer the console cannot use without the admin token. */
export class NeedsToken extends Error {}

export function authHeaders(extra = {}) {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

export function setToken(t) {
  sessionStorage.setItem(TOKEN_KEY, t);
}

export function askToken(message) {
  $('sign-in-form').hidden = false;
  $('sign-in-error').textContent = message;
}

export async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: authHeaders(opts.headers ?? {}), cache: 'no-store', credentials: 'omit' });
  if (res.status === 401) {
    askToken('The gate asks for the admin token (none given, or not this one).');
    throw new NeedsToken('needs the admin token');
  }
  return res;
}

export async function apiJson(path, opts) {
  const res = await api(path, opts);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

export async function apiText(path) {
  const res = await api(path);
  const text = await res.text();
  if (!res.ok) throw new Error(text.trim() || `HTTP ${res.status}`);
  return text;
}
