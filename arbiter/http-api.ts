/**
 * The arbiter's listener (SPEC §12): the permit API, the approver API and page, break glass,
 * and — through the gate's admin handler — /healthz, /readyz, /metrics, /jwks.json and the
 * receipt-log endpoints. It authenticates and routes; every decision is permit-authority's.
 */
import type http from 'node:http';
import { problem, type Answer } from './arbiter-reasons.js';
import { APPROVER_COOKIE, approvalsPage, csrfOf, signInPage, type Page } from './approval-page.js';
import type { BreakGlass } from './break-glass.js';
import type { Authenticator } from './callers.js';
import type { PermitAuthority } from './permit-authority.js';

export interface ApiDeps {
  auth: Authenticator;
  authority: PermitAuthority;
  breakGlass: BreakGlass;
  /** The permit-verification keys, published at /.well-known/jwks.json. */
  jwks: () => { keys: object[] };
  admin: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  onError: (e: unknown) => void;
}

const MAX_BODY = 64 * 1024;

function write(res: http.ServerResponse, a: Answer): void {
  const text = JSON.stringify(a.body);
  res.writeHead(a.status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...a.headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function html(res: http.ServerResponse, status: number, p: Page, extra: Record<string, string | string[]> = {}): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': p.csp, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store', ...extra });
  res.end(p.html);
}

function see(res: http.ServerResponse, where: string, extra: Record<string, string> = {}): void {
  res.writeHead(303, { location: where, 'cache-control': 'no-store', ...extra });
  res.end();
}

async function readText(req: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
  const text = await readText(req);
  if (text === undefined) return { ok: false };
  if (text.trim() === '') return { ok: true, value: {} };
  try { return { ok: true, value: JSON.parse(text) }; } catch { return { ok: false }; }
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === APPROVER_COOKIE) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export function createApiHandler(d: ApiDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const unauth = (what: string) => problem('UNAUTHENTICATED', `a valid ${what} bearer token is required`);

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://arbiter');
    const p = url.pathname;
    const m = req.method ?? 'GET';
    if (m === 'GET' && p === '/.well-known/jwks.json') return write(res, { status: 200, body: d.jwks() });

    if (m === 'POST' && p === '/v1/permits') {
      const caller = await d.auth.caller(req.headers.authorization);
      if (!caller) return write(res, unauth('caller'));
      const body = await readJson(req);
      if (!body.ok) return write(res, problem('REQUEST_INVALID', 'the body must be JSON of at most 64KiB'));
      return write(res, await d.authority.request(caller, body.value));
    }
    let hit = /^\/v1\/permit-requests\/([A-Za-z0-9-]{1,64})$/.exec(p);
    if (m === 'GET' && hit) {
      const caller = await d.auth.caller(req.headers.authorization);
      if (!caller) return write(res, unauth('caller'));
      return write(res, await d.authority.poll(caller, hit[1] as string));
    }
    if (p.startsWith('/v1/approvals') || p.startsWith('/v1/break-glass')) {
      const approver = d.auth.approver(req.headers.authorization);
      if (!approver) {
        const isCaller = await d.auth.caller(req.headers.authorization);
        return write(res, isCaller ? problem('NOT_AN_APPROVER', 'callers cannot decide permit requests') : unauth('approver'));
      }
      if (m === 'GET' && p === '/v1/approvals') return write(res, { status: 200, body: { approver: approver.name, waiting: d.authority.waiting() } });
      hit = /^\/v1\/approvals\/([A-Za-z0-9-]{1,64})$/.exec(p);
      if (m === 'POST' && hit) {
        const body = await readJson(req);
        const b = (body.ok ? body.value : undefined) as { approve?: unknown; note?: unknown } | undefined;
        if (!b || typeof b.approve !== 'boolean' || (b.note !== undefined && typeof b.note !== 'string')) return write(res, problem('REQUEST_INVALID', 'the body is {"approve": true|false, "note"?: "…"}'));
        return write(res, await d.authority.vote(approver, hit[1] as string, b.approve, typeof b.note === 'string' ? b.note.slice(0, 1000) : null));
      }
      if (m === 'POST' && p === '/v1/break-glass') {
        const body = await readJson(req);
        return write(res, body.ok ? await d.breakGlass.open(approver, body.value) : problem('REQUEST_INVALID', 'the body must be JSON'));
      }
      hit = /^\/v1\/break-glass\/([A-Za-z0-9-]{1,64})\/confirm$/.exec(p);
      if (m === 'POST' && hit) return write(res, await d.breakGlass.confirm(approver, hit[1] as string));
      return write(res, problem('NOT_FOUND', 'no such endpoint'));
    }

    if (p === '/' || p.startsWith('/ui')) return ui(req, res, url);
    return d.admin(req, res);
  }

  async function ui(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const m = req.method ?? 'GET';
    if (m === 'POST' && url.pathname === '/ui/sign-in') {
      const token = new URLSearchParams((await readText(req)) ?? '').get('token') ?? '';
      if (!d.auth.approver(`Bearer ${token}`)) return html(res, 401, signInPage('That is not an approver token.'));
      return see(res, '/ui', { 'set-cookie': `${APPROVER_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/ui` });
    }
    const token = cookieToken(req);
    const approver = token !== undefined ? d.auth.approver(`Bearer ${token}`) : undefined;
    if (!approver || token === undefined) return html(res, 200, signInPage());
    const hit = /^\/ui\/approvals\/([A-Za-z0-9-]{1,64})$/.exec(url.pathname);
    if (m === 'POST' && hit) {
      const form = new URLSearchParams((await readText(req)) ?? '');
      if (form.get('csrf') !== csrfOf(token)) return html(res, 403, approvalsPage(approver.name, csrfOf(token), d.authority.waiting(), 'The form was not sent by this page; try again.'));
      const a = await d.authority.vote(approver, hit[1] as string, form.get('approve') === 'true', null);
      const msg = a.status === 200 ? `Request ${hit[1]} is ${String(a.body.state)}.` : String(a.body.detail);
      return html(res, a.status === 200 ? 200 : a.status, approvalsPage(approver.name, csrfOf(token), d.authority.waiting(), msg));
    }
    if (m !== 'GET') return html(res, 405, signInPage());
    return html(res, 200, approvalsPage(approver.name, csrfOf(token), d.authority.waiting()));
  }

  return (req, res) => {
    route(req, res).catch((e) => {
      d.onError(e);
      if (!res.headersSent) write(res, problem('INTERNAL_ERROR', 'the arbiter failed while answering'));
      else res.destroy();
    });
  };
}
