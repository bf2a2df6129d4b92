/**
 * `egress-gate explain` — simulates one request offline through the gate's own decision chain
 * (pipeline/decision-chain.ts: normalize, match, destination check for IP literals, body,
 * authorize, decide) and prints what happened as JSON. It spends no permit, writes no
 * receipt, asks no decider and makes no DNS query. Exit 0 whatever the decision.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { ConfigError } from '../../policy/config-error.js';
import { loadConfig } from '../../policy/load-config.js';
import { parseConnectAuthority } from '../../policy/normalize-request.js';
import type { GateConfig } from '../../policy/types.js';
import { modeFor } from '../../proxy/pipeline/decide.js';
import { DecisionChain } from '../../proxy/pipeline/decision-chain.js';
import type { Arrival, RequestHead } from '../../proxy/pipeline/parse-request.js';
import { bufferBody } from '../../proxy/pipeline/read-body.js';
import { OfflineResolver } from '../../proxy/pipeline/resolve-destination.js';
import { isRemote, loadPolicy } from '../../runtime/policy-source.js';
import { setUpPermits } from '../../proxy/authority/permits-setup.js';
import { createLogger } from '../../proxy/observe/logger.js';
import { UsageError, type Command } from './command.js';

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('base64url');

function findConfig(given: string | undefined): string {
  if (given) return path.resolve(given);
  for (const p of ['egress-gate.yaml', path.join('.egress-gate', 'egress-gate.yaml')]) if (existsSync(p)) return path.resolve(p);
  throw new UsageError('no config: pass --config FILE (or run where ./egress-gate.yaml or ./.egress-gate/egress-gate.yaml exists)');
}

export const command: Command = {
  name: 'explain',
  summary: 'simulate one request offline and print the decision as JSON',
  usage: `usage: egress-gate explain [--config FILE] [--permit JWS] [--body FILE] [--header 'K: V']… METHOD URL

Prints the normalized request, the matched route, the checks and the decision with its
reason, as JSON on stdout. Offline: no receipt, no permit spent, no decider, no DNS.
Exit 0 whatever the decision; 2 for a usage or config error.`,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv, allowPositionals: true, strict: true,
      options: { config: { type: 'string' }, permit: { type: 'string' }, body: { type: 'string' }, header: { type: 'string', multiple: true }, json: { type: 'boolean' } },
    });
    if (positionals.length !== 2) throw new UsageError('expected METHOD URL');
    const [method, url] = positionals as [string, string];
    let config: GateConfig;
    try {
      config = await loadConfig(findConfig(values.config));
    } catch (e) {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
      throw e;
    }
    if (isRemote(config.policy)) {
      process.stderr.write(`egress-gate explain: this config's route maps are a remote bundle (${config.policy.routes[0]}); explain runs offline and reads route maps from files only\n`);
      return 2;
    }
    const policy = await loadPolicy(config.policy.routes, { nowMs: Date.now(), secretsDir: config.secrets.dir }).catch((e) => {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return undefined; }
      throw e;
    });
    if (!policy) return 2;
    const headers = new Map<string, string[]>();
    for (const h of values.header ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(`--header must be 'Name: value', got ${JSON.stringify(h.slice(0, 40))}`);
      const k = h.slice(0, i).trim().toLowerCase();
      headers.set(k, [...(headers.get(k) ?? []), h.slice(i + 1).trim()]);
    }
    const body = values.body !== undefined ? await readFile(values.body) : undefined;
    // --permit is the permit header a client would send (it wins over one given with --header).
    if (values.permit !== undefined) headers.set(config.permits.header.toLowerCase(), [values.permit]);
    const checks: { check: string; result: string }[] = [];
    const permits = await setUpPermits(config, { clock: Date.now, log: createLogger({ level: 'silent' }), offline: true });
    try {
      const chain = new DecisionChain({
        config, gateId: config.gate.id, subject: config.gate.subject, clock: Date.now, permits: permits.checker,
        policy: () => policy, resolver: new OfflineResolver(config.network), log: createLogger({ level: 'silent' }),
        // Offline: a configured decider is not asked (its routes end SILENCE DECIDER_ERROR with a
        // detail that says so); with none configured the answer is the gate's own.
        decider: config.decider ? { ask: async () => ({ decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'explain runs offline and does not ask the decider' }) } : undefined,
        trace: (check, result) => checks.push({ check, result }), dryRun: true,
      });
      const { head, arrival } = requestHead(method, url, headers);
      const { attempt: a, verdict: v } = await chain.decideRequest({ head, arrival, body: bufferBody(body) });
      const d = v.decision;
      if (a.route?.singleUse && d.decision === 'PERMIT' && d.permit) checks.push({ check: 'single_use', result: 'not spent (explain); the gate would spend this jti' });
      const req = a.request;
      const out = {
        input: { method, url },
        request: req ? { ...req, query: req.query === null ? null : { sha256: sha256(req.query) } } : null,
        route: d.route ? { surface: d.route.surface, action: d.route.action, authorize: d.route.authorize, single_use: d.route.singleUse, bind_body: d.route.bindBody, bind_query: d.route.bindQuery, tunnel: d.route.tunnel, mode: modeFor(d.route, config.gate.mode), where: `${d.route.where.file}:${d.route.where.line}:${d.route.where.col}` } : null,
        policy: { version: policy.version, digest: policy.digest },
        checks,
        decision: d.decision, reason: d.reason, detail: d.detail,
        enforced: v.enforced, would_forward: v.forward,
        permit: d.permit ? { iss: d.permit.iss, kid: d.permit.kid, jti: d.permit.jti, exp: d.permit.exp, txn: d.permit.txn } : null,
        exception: d.exception ?? null,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    } finally {
      await permits.close();
    }
  },
};

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
