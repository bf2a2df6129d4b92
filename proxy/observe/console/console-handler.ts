/**
 * The admin console (read-only) on the admin listener: the page at `/` and its files under
 * `/console/`, and its data under `/console/api/` — the live stream (`events`), older
 * decisions from the log (`decisions`), one decision (`decision`), explain (`explain`, the
 * one POST: it runs the offline decision chain and changes nothing) and the routes view
 * (`routes`). Data requests pass {@link ConsoleAccess} first. Health and evidence come from
 * the admin listener's own endpoints (/readyz, /metrics, /receipts/*).
 */
import type http from 'node:http';
import type { PermitChecker } from '../../../policy/permits/check-permit.js';
import type { CompiledPolicy, GateConfig } from '../../../policy/types.js';
import type { PolicyStatus } from '../../../runtime/policy-source.js';
import { modeFor } from '../../pipeline/decide.js';
import { explainRequest, headerLines } from '../../pipeline/explain-request.js';
import { BodyTooLargeError, readBody } from '../../pipeline/read-body.js';
import type { ConsoleAccess } from './console-access.js';
import type { DecisionHub } from './decision-hub.js';
import { EventStream } from './event-stream.js';
import { decisionById, decisionsBefore } from './log-history.js';
import { routesView } from './routes-view.js';
import type { ConsoleAssets } from './console-assets.js';

export interface ConsoleDeps {
  config: GateConfig;
  hub: DecisionHub;
  access: ConsoleAccess;
  assets: ConsoleAssets;
  policy: { readonly policy: CompiledPolicy | undefined; status(): PolicyStatus };
  permits: PermitChecker;
  clock?: () => number;
}

const HISTORY_MAX = 500;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

/** The console as a handler for the admin listener: true when it answered `req`. */
export function createConsoleHandler(deps: ConsoleDeps): (req: http.IncomingMessage, res: http.ServerResponse, pathname: string, query: URLSearchParams) => boolean {
  const clock = deps.clock ?? Date.now;
  return (req, res, pathname, query) => {
    if (!pathname.startsWith('/console/api/')) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      return deps.assets.serve(pathname, res, req.method === 'HEAD');
    }
    const access = deps.access.check(req);
    if (!access.ok) {
      json(res, access.status, { error: access.message });
      return true;
    }
    const api = pathname.slice('/console/api/'.length);
    if (api === 'explain') {
      if (req.method !== 'POST') json(res, 405, { error: 'explain takes POST' });
      // A JSON content type cannot be sent cross-origin without a preflight, which is never granted.
      else if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) json(res, 415, { error: 'explain takes application/json' });
      else void explain(deps, req, res).catch((e) => json(res, 500, { error: (e as Error).message }));
      return true;
    }
    if (req.method !== 'GET') {
      json(res, 405, { error: 'the console is read-only' });
      return true;
    }
    const fail = (e: unknown) => { if (!res.headersSent) json(res, 500, { error: (e as Error).message }); };
    switch (api) {
      case 'events':
        new EventStream(deps.hub, res);
        return true;
      case 'decisions': {
        const before = query.get('before');
        const limit = query.get('limit') ?? '50';
        if ((before !== null && !DECIMAL.test(before)) || !DECIMAL.test(limit)) { json(res, 400, { error: 'before and limit are decimals' }); return true; }
        decisionsBefore(deps.config.receipts.dir, before === null ? undefined : Number(before), Math.min(Number(limit), HISTORY_MAX))
          .then((rows) => json(res, 200, { decisions: rows }), fail);
        return true;
      }
      case 'decision': {
        const id = query.get('id') ?? '';
        if (!/^[0-9a-f-]{36}$/.test(id)) { json(res, 400, { error: 'give ?id=<receipt id>' }); return true; }
        decisionById(deps.config.receipts.dir, id).then((found) => {
          if (!found) return json(res, 404, { error: 'no decision entry with that id in the log' });
          json(res, 200, { ...found, route: routeOf(deps, found.entry) });
        }, fail);
        return true;
      }
      case 'routes':
        json(res, 200, routesView(deps.policy.policy, deps.policy.status(), deps.config.gate.mode, clock()));
        return true;
      default:
        json(res, 404, { error: 'not found' });
        return true;
    }
  };
}

/** The route in effect now for the entry's surface/action, and whether the entry was decided under this policy version. */
function routeOf(deps: ConsoleDeps, entry: Record<string, unknown>): Record<string, unknown> | null {
  const p = deps.policy.policy;
  const r = p?.routes.find((x) => x.surface === entry.surface && x.action === entry.action);
  if (!p || !r) return null;
  const decidedUnder = (entry.policy as { version?: string } | null)?.version ?? null;
  return {
    surface: r.surface, action: r.action, authorize: r.authorize, mode: modeFor(r, deps.config.gate.mode), must_enforce: r.mustEnforce,
    where: `${r.where.file}:${r.where.line}:${r.where.col}`, policy_version: p.version, same_version: decidedUnder === p.version,
  };
}

async function explain(deps: ConsoleDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let text: string;
  try {
    text = (await readBody(req, deps.config.limits.maxBoundBody + 256 * 1024)).toString('utf8');
  } catch (e) {
    if (e instanceof BodyTooLargeError) return json(res, 413, { error: 'the explain request is too large' });
    throw e;
  }
  let input: { method?: unknown; url?: unknown; headers?: unknown; body?: unknown; permit?: unknown };
  try {
    input = JSON.parse(text) as typeof input;
  } catch {
    return json(res, 400, { error: 'not JSON' });
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const method = str(input.method);
  const url = str(input.url);
  if (!method || !url) return json(res, 400, { error: 'method and url are required' });
  let headers: Map<string, string[]>;
  try {
    headers = headerLines((str(input.headers) ?? '').split(/\r?\n/).filter((l) => l.trim() !== ''));
  } catch (e) {
    return json(res, 400, { error: (e as Error).message });
  }
  const body = str(input.body);
  const permit = str(input.permit)?.trim();
  const out = await explainRequest(
    { config: deps.config, policy: deps.policy.policy, permits: deps.permits, clock: deps.clock },
    { method, url, headers, ...(body !== undefined && body !== '' ? { body: Buffer.from(body, 'utf8') } : {}), ...(permit ? { permit } : {}) },
  );
  json(res, 200, out);
}
