/**
 * Explain: one request run offline through the gate's own decision chain (decision-chain.ts:
 * normalize, match, destination check for IP literals, body, authorize, decide), answered as
 * the JSON `egress-gate explain` prints. The CLI and the admin console both call
 * {@link explainRequest}, so they give the same answer. It spends no permit (dryRun), writes no
 * receipt, asks no decider and makes no DNS query.
 */
import { createHash } from 'node:crypto';
import { parseConnectAuthority } from '../../policy/normalize-request.js';
import type { PermitChecker } from '../../policy/permits/check-permit.js';
import type { CompiledPolicy, GateConfig } from '../../policy/types.js';
import { createLogger } from '../../runtime/logger.js';
import { modeFor } from './decide.js';
import { DecisionChain } from './decision-chain.js';
import type { Arrival, RequestHead } from './parse-request.js';
import { bufferBody } from './read-body.js';
import { OfflineResolver } from './resolve-destination.js';

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('base64url');

export interface ExplainInput {
  method: string;
  url: string;
  /** Lowercased names. */
  headers: Map<string, string[]>;
  body?: Buffer;
  /** The permit header a client would send (it wins over one given in `headers`). */
  permit?: string;
}

export interface ExplainDeps {
  config: GateConfig;
  /** The route maps to decide with; undefined answers SILENCE POLICY_UNAVAILABLE, as the gate would. */
  policy: CompiledPolicy | undefined;
  permits: PermitChecker;
  clock?: () => number;
}

/** `Name: value` lines to a header map (lowercased names); throws Error naming the first bad line. */
export function headerLines(lines: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (const h of lines) {
    const i = h.indexOf(':');
    if (i <= 0) throw new Error(`a header must be 'Name: value', got ${JSON.stringify(h.slice(0, 40))}`);
    const k = h.slice(0, i).trim().toLowerCase();
    headers.set(k, [...(headers.get(k) ?? []), h.slice(i + 1).trim()]);
  }
  return headers;
}

/** What would happen to one request: the answer of `egress-gate explain` (a JSON-ready object). */
export async function explainRequest(deps: ExplainDeps, input: ExplainInput): Promise<Record<string, unknown>> {
  const { config, policy } = deps;
  const clock = deps.clock ?? Date.now;
  const headers = new Map(input.headers);
  if (input.permit !== undefined) headers.set(config.permits.header.toLowerCase(), [input.permit]);
  const checks: { check: string; result: string }[] = [];
  const chain = new DecisionChain({
    config, gateId: config.gate.id, subject: config.gate.subject, clock, permits: deps.permits,
    policy: () => policy, resolver: new OfflineResolver(config.network), log: createLogger({ level: 'silent' }),
    // Offline: a configured decider is not asked (its routes end SILENCE DECIDER_ERROR with a
    // detail that says so); with none configured the answer is the gate's own.
    decider: config.decider ? { ask: async () => ({ decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'explain runs offline and does not ask the decider' }) } : undefined,
    trace: (check, result) => checks.push({ check, result }), dryRun: true,
  });
  const { head, arrival } = requestHead(input.method, input.url, headers);
  const { attempt: a, verdict: v } = await chain.decideRequest({ head, arrival, body: bufferBody(input.body) });
  const d = v.decision;
  if (a.route?.singleUse && d.decision === 'PERMIT' && d.permit) checks.push({ check: 'single_use', result: 'not spent (explain); the gate would spend this jti' });
  const req = a.request;
  return {
    input: { method: input.method, url: input.url },
    request: req ? { ...req, query: req.query === null ? null : { sha256: sha256(req.query) } } : null,
    // The JSON-RPC request the body held, as the decision receipt records it (null: routes did not read the body).
    jsonrpc: a.jsonrpc ? { method: a.jsonrpc.method, tool: a.jsonrpc.tool ?? null, notification: a.jsonrpc.notification } : null,
    route: d.route ? {
      surface: d.route.surface, action: d.route.action, authorize: d.route.authorize, single_use: d.route.singleUse, bind_body: d.route.bindBody, bind_query: d.route.bindQuery,
      jsonrpc: d.route.match.jsonrpc ? { method: d.route.match.jsonrpc.method, tool: d.route.match.jsonrpc.tool ?? null } : null,
      tunnel: d.route.tunnel, mode: modeFor(d.route, config.gate.mode), where: `${d.route.where.file}:${d.route.where.line}:${d.route.where.col}`,
    } : null,
    policy: policy ? { version: policy.version, digest: policy.digest } : null,
    checks,
    decision: d.decision, reason: d.reason, detail: d.detail,
    enforced: v.enforced, would_forward: v.forward,
    permit: d.permit ? { iss: d.permit.iss, kid: d.permit.kid, jti: d.permit.jti, exp: d.permit.exp, txn: d.permit.txn } : null,
    exception: d.exception ?? null,
  };
}

/**
 * The request head a client would send for METHOD URL through the gate: an `http://` URL as
 * an absolute-form request on the proxy port, an `https://` URL as a request inside an
 * intercepted CONNECT to its host:port. A Host header is added from the URL unless given.
 */
export function requestHead(method: string, url: string, headers: ReadonlyMap<string, string[]>): { head: RequestHead; arrival: Arrival } {
  const rawHeaders: string[] = [];
  for (const [k, vs] of headers) for (const v of vs) rawHeaders.push(k, v);
  const m = /^(https?):\/\/([^/?#]*)/i.exec(url);
  if (m && !headers.has('host')) rawHeaders.push('host', m[2]!);
  const head: RequestHead = { method, url, rawHeaders, httpVersion: '1.1' };
  if (!m || m[1]!.toLowerCase() === 'http') return { head, arrival: { scheme: 'http' } };
  try {
    const auth = parseConnectAuthority(m[2]!.includes(':') && !m[2]!.endsWith(']') ? m[2]! : `${m[2]!}:443`);
    return { head, arrival: { scheme: 'https', tunnel: { host: auth.host, port: auth.port } } };
  } catch {
    return { head, arrival: { scheme: 'http' } }; // the chain refuses the URL itself
  }
}
