/**
 * `egress-gate arbiter start [--config FILE]` — runs the permit authority (SPEC §12) until
 * SIGTERM/SIGINT; SIGHUP reloads the route maps. FILE, else ./arbiter.yaml, else the
 * development default (cli/arbiter-dev-default.ts). An invalid config is refused (exit 2).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startArbiter } from '../../arbiter/arbiter.js';
import { loadArbiterConfig } from '../../arbiter/load-arbiter-config.js';
import type { ArbiterConfig } from '../../arbiter/types.js';
import { ConfigError } from '../../policy/config-error.js';
import { flushLogger } from '../../runtime/logger.js';
import { arbiterDevBanner, prepareArbiterDevDefault, type ArbiterDevState } from '../arbiter-dev-default.js';
import type { Command } from './command.js';

export const command: Command = {
  name: 'arbiter start',
  summary: 'run the permit authority (development default without a config)',
  usage: `usage: egress-gate arbiter start [--config FILE]

Runs the arbiter with FILE, or ./arbiter.yaml when present, or else the development default:
state in ./.egress-gate/arbiter/ (keys, receipts, caller.token for agent:dev, approver.token),
listening on 127.0.0.1:8181, trusted by the development gate of "egress-gate start".
Signals: SIGHUP reloads the route maps; SIGTERM/SIGINT stop.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true, allowPositionals: false });
    let file = values.config;
    let dev: ArbiterDevState | undefined;
    if (!file && existsSync('arbiter.yaml')) file = path.resolve('arbiter.yaml');
    if (!file) {
      dev = await prepareArbiterDevDefault(process.cwd());
      file = dev.configPath;
    }
    let config: ArbiterConfig;
    try {
      config = await loadArbiterConfig(path.resolve(file));
    } catch (e) {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
      throw e;
    }
    let arbiter;
    try {
      arbiter = await startArbiter(config, { version: process.env.npm_package_version });
    } catch (e) {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
      const err = e as NodeJS.ErrnoException;
      process.stderr.write(`egress-gate arbiter start: ${err.code === 'EADDRINUSE' ? `address in use (${err.message})` : err.message}\n`);
      return 2;
    }
    if (dev) process.stderr.write(arbiterDevBanner(dev));
    else process.stderr.write(`egress-gate arbiter: ${config.arbiter.iss} listening on ${config.arbiter.listen.host}:${arbiter.port}\n`);
    return new Promise<number>((resolve) => {
      const stop = () => {
        arbiter.stop().then(async () => { await flushLogger(arbiter.log); setTimeout(() => process.exit(0), 200).unref(); resolve(0); },
          (e) => { process.stderr.write(`egress-gate arbiter: stop failed: ${(e as Error).message}\n`); resolve(2); });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      process.on('SIGHUP', () => { void arbiter.reload(); });
    });
  },
};
