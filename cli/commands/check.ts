/**
 * `egress-gate check [--config FILE] [ROUTEMAP…]` (SPEC §2): validates the config and the
 * route maps exactly as `start` loads them, prints every problem as `file:line:col: message`
 * on stderr, and exits 0 (valid, warnings printed) or 1 (invalid).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compilePolicy } from '../../policy/compile-policy.js';
import { ConfigError, formatProblem, type ConfigProblem } from '../../policy/config-error.js';
import { examplesDir } from '../../policy/examples-dir.js';
import { loadConfig } from '../../policy/load-config.js';
import { loadRouteMaps } from '../../policy/load-route-maps.js';
import type { GateConfig } from '../../policy/types.js';
import type { Command } from './command.js';

const USAGE = `usage: egress-gate check [--config FILE] [--json] [ROUTEMAP…]

Validates the configuration and route maps without running the gate.
  --config FILE  the config (default: ./egress-gate.yaml when it exists)
  ROUTEMAP…      route-map files or folders to check instead of the config's policy.routes
                 (with neither, the example route maps of the development default)
  --json         one JSON object on stdout: {ok, problems: [{file, line, col, message}],
                 warnings, routes, exceptions, policy: {version, digest}}
Problems are printed as file:line:col: message. Exit 0 valid, 1 invalid.`;

/** Where check's output goes; a seam for tests that call run() in-process. */
export interface CheckOutput {
  out(line: string): void;
  err(line: string): void;
}

const stdio: CheckOutput = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

/** Runs check; returns the exit code. */
export async function runCheck(argv: string[], io: CheckOutput = stdio, cwd = process.cwd()): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { config: { type: 'string' }, json: { type: 'boolean' } }, allowPositionals: true, strict: true });
  const warnings: string[] = [];
  let compiled: { routes: number; exceptions: number; version: string; digest: string } | undefined;
  const problems: ConfigProblem[] = [];
  const collect = (e: unknown): void => {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  };

  const configFile = values.config ?? (existsSync(path.join(cwd, 'egress-gate.yaml')) ? path.join(cwd, 'egress-gate.yaml') : undefined);
  let config: GateConfig | undefined;
  if (configFile !== undefined) {
    try {
      config = await loadConfig(path.resolve(cwd, configFile));
    } catch (e) {
      collect(e);
    }
  }

  let sources: string[];
  if (positionals.length > 0) sources = positionals.map((p) => path.resolve(cwd, p));
  else if (configFile !== undefined) sources = config?.policy.routes ?? [];
  else sources = [examplesDir()];

  const remote = sources.length === 1 && /^https:\/\//i.test(sources[0] as string);
  if (remote) {
    io.err(`note: policy.routes is the remote bundle ${sources[0]}; it is not fetched by check, only the rest of the config is validated`);
    sources = [];
  }

  let summary = '';
  if (sources.length > 0) {
    try {
      const maps = await loadRouteMaps(sources, config?.secrets.dir !== undefined ? { secretsDir: config.secrets.dir } : {});
      const policy = compilePolicy(maps, { nowMs: Date.now() });
      warnings.push(...policy.warnings);
      if (!values.json) for (const w of policy.warnings) io.err(`warning: ${w}`);
      compiled = { routes: policy.routes.length, exceptions: policy.exceptions.length, version: policy.version, digest: policy.digest };
      summary = `${policy.routes.length} routes, ${policy.exceptions.length} exceptions from ${maps.sources.length} files (policy ${policy.version})`;
    } catch (e) {
      collect(e);
    }
  }

  if (values.json) {
    io.out(JSON.stringify({
      ok: problems.length === 0, problems, warnings,
      config: config?.source ?? null,
      routes: compiled?.routes ?? null, exceptions: compiled?.exceptions ?? null,
      policy: compiled ? { version: compiled.version, digest: compiled.digest } : null,
    }));
    return problems.length === 0 ? 0 : 1;
  }
  if (problems.length > 0) {
    for (const p of problems) io.err(formatProblem(p));
    io.err(`check: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    return 1;
  }
  const what = [config ? `config ${config.source}` : '', summary].filter((s) => s !== '').join('; ');
  io.out(`ok: ${what || 'nothing to check'}`);
  return 0;
}

export const command: Command = {
  name: 'check',
  summary: 'validate the config and route maps (file:line:col problems; exit 0 valid, 1 invalid)',
  usage: USAGE,
  run: (argv) => runCheck(argv),
};
