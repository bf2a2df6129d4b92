/**
 * `egress-gate explain` — simulates one request offline through the same stages the gate
 * runs (normalize, match, destination check for IP literals, authorize, decide) and prints
 * what happened as JSON. It spends no permit, writes no receipt, asks no decider and makes no
 * DNS query. Exit 0 whatever the decision.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { ConfigError } from '../../policy/config-error.js';
import { loadConfig } from '../../policy/load-config.js';
import { normalizeRequest } from '../../policy/normalize-request.js';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import type { Decision, GateConfig, NormalizedRequest } from '../../policy/types.js';
import { authorize } from '../../proxy/pipeline/authorize.js';
import { decide, modeFor } from '../../proxy/pipeline/decide.js';
import { DestinationResolver } from '../../proxy/pipeline/resolve-destination.js';
import { isRemote, loadPolicy } from '../../proxy/authority/policy-source.js';
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
    if (isRemote(config)) {
      process.stderr.write(`egress-gate explain: this config's route maps are a remote bundle (${config.policy.routes[0]}); explain runs offline and reads route maps from files only\n`);
      return 2;
    }
    const policy = await loadPolicy(config, Date.now()).catch((e) => {
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
    const token = values.permit ?? headers.get(config.permits.header.toLowerCase())?.[0];
    const checks: { check: string; result: string }[] = [];
    const out: Record<string, unknown> = { input: { method, url } };
    const finish = (d: Decision, req?: NormalizedRequest) => {
      const v = decide(d, config.gate.mode);
      Object.assign(out, {
        request: req ? { ...req, query: req.query === null ? null : { sha256: sha256(req.query) } } : null,
        route: d.route ? { surface: d.route.surface, action: d.route.action, authorize: d.route.authorize, single_use: d.route.singleUse, bind_body: d.route.bindBody, bind_query: d.route.bindQuery, tunnel: d.route.tunnel, mode: modeFor(d.route, config.gate.mode), where: `${d.route.where.file}:${d.route.where.line}:${d.route.where.col}` } : null,
        policy: { version: policy.version, digest: policy.digest },
        checks,
        decision: d.decision, reason: d.reason, detail: d.detail,
        enforced: v.enforced, would_forward: v.forward,
        permit: d.permit ? { iss: d.permit.iss, kid: d.permit.kid, jti: d.permit.jti, exp: d.permit.exp, txn: d.permit.txn } : null,
        exception: d.exception ?? null,
      });
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    };
    const make = (reason: Reason, detail: string): Decision => ({ decision: decisionOf(reason), reason, detail });

    let req: NormalizedRequest;
    try {
      req = normalizeRequest({ method, target: url, hostHeader: headers.get('host')?.[0] });
      checks.push({ check: 'normalize', result: 'ok' });
    } catch (e) {
      if ((e as { code?: string }).code !== 'REQUEST_INVALID') throw e;
      checks.push({ check: 'normalize', result: (e as Error).message });
      return finish(make('REQUEST_INVALID', (e as Error).message));
    }
    const route = policy.match(req);
    if (!route) {
      checks.push({ check: 'match', result: 'no route' });
      return finish(make('ROUTE_UNMATCHED', `no route matches ${req.method} ${req.url}`), req);
    }
    checks.push({ check: 'match', result: `${route.surface}/${route.action}` });
    if (req.hostIsIp) {
      const dest = await new DestinationResolver(config.network).resolve(req);
      checks.push({ check: 'destination', result: dest.ok ? 'allowed' : dest.detail });
      if (!dest.ok && dest.private) return finish({ ...make('DESTINATION_PRIVATE', dest.detail), route, surface: route.surface, action: route.action }, req);
    } else checks.push({ check: 'destination', result: 'not resolved offline' });
    if (route.bindBody && body && body.length > config.limits.maxBoundBody) {
      return finish({ ...make('BODY_TOO_LARGE', 'the body exceeds max_bound_body'), route, surface: route.surface, action: route.action }, req);
    }
    const permits = await setUpPermits(config, { clock: Date.now, log: createLogger({ level: 'silent' }), offline: true });
    try {
      const r = await authorize({
        policy, route, request: req, token,
        bodySha256: route.bindBody ? sha256(body ?? Buffer.alloc(0)) : undefined,
        querySha256: req.query !== null ? sha256(req.query) : undefined,
        idempotencyKey: headers.get('idempotency-key')?.[0],
        dryRun: true,
      }, {
        gateId: config.gate.id, subject: config.gate.subject, permits: permits.checker, clock: Date.now,
        decider: { ask: async () => ({ decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'explain runs offline and does not ask the decider' }) },
      });
      checks.push({ check: 'authorize', result: `${route.authorize}: ${r.decision.reason}` });
      if (route.singleUse && r.decision.decision === 'PERMIT' && r.decision.permit) checks.push({ check: 'single_use', result: 'not spent (explain); the gate would spend this jti' });
      return finish(r.decision, req);
    } finally {
      await permits.close();
    }
  },
};
