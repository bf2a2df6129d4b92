/**
 * `egress-gate explain` — simulates one request offline through the gate's own decision chain
 * (pipeline/explain-request.ts, which the admin console's explain form calls too) and prints
 * what happened as JSON. It spends no permit, writes no
 * receipt, asks no decider and makes no DNS query. Exit 0 whatever the decision.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../policy/config-error.js';
import { loadConfig } from '../../policy/load-config.js';
import type { GateConfig } from '../../policy/types.js';
import { explainRequest, headerLines } from '../../proxy/pipeline/explain-request.js';
import { isRemote, loadPolicy } from '../../runtime/policy-source.js';
import { setUpPermits } from '../../proxy/authority/permits-setup.js';
import { createLogger } from '../../runtime/logger.js';
import { UsageError, type Command } from './command.js';

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
    let headers: Map<string, string[]>;
    try {
      headers = headerLines(values.header ?? []);
    } catch (e) {
      throw new UsageError(`--header: ${(e as Error).message}`);
    }
    const body = values.body !== undefined ? await readFile(values.body) : undefined;
    const permits = await setUpPermits(config, { clock: Date.now, log: createLogger({ level: 'silent' }), offline: true });
    try {
      // --permit is the permit header a client would send (it wins over one given with --header).
      const out = await explainRequest({ config, policy, permits: permits.checker }, { method, url, headers, body, permit: values.permit });
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    } finally {
      await permits.close();
    }
  },
};
