/**
 * `egress-gate start [--config FILE]` — runs the gate until SIGTERM/SIGINT. SIGHUP reloads
 * the route maps. A config that `check` would reject is refused with the same messages (exit 2).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../policy/config-error.js';
import { loadConfig } from '../../policy/load-config.js';
import type { GateConfig } from '../../policy/types.js';
import { devBanner, prepareDevDefault, type DevState } from '../dev-default.js';
import { startGate } from '../../proxy/gate.js';
import { packageVersion } from '../package-version.js';
import { flushLogger } from '../../runtime/logger.js';
import type { Command } from './command.js';


const hp = (h: { host: string; port: number }) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;

export const command: Command = {
  name: 'start',
  summary: 'run the gate (development default without a config)',
  usage: `usage: egress-gate start [--config FILE]

Runs the gate with FILE, or ./egress-gate.yaml when present, or else the development
default: state in ./.egress-gate/ (CA, receipt key, a dev issuer key), the example route
maps, and a printed guide to trusting the CA and minting a permit.
Signals: SIGHUP reloads the route maps; SIGTERM/SIGINT drain in-flight requests and stop.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true, allowPositionals: false });
    let file = values.config;
    let dev: DevState | undefined;
    if (!file && existsSync('egress-gate.yaml')) file = path.resolve('egress-gate.yaml');
    if (!file) {
      dev = await prepareDevDefault(process.cwd());
      file = dev.configPath;
    }
    let config: GateConfig;
    try {
      config = await loadConfig(path.resolve(file));
    } catch (e) {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
      throw e;
    }
    let gate;
    try {
      gate = await startGate(config, { version: packageVersion() });
    } catch (e) {
      if (e instanceof ConfigError) { process.stderr.write(`${e.message}\n`); return 2; }
      const err = e as NodeJS.ErrnoException;
      process.stderr.write(`egress-gate start: ${err.code === 'EADDRINUSE' ? `address in use (${err.message})` : err.message}\n`);
      return 2;
    }
    if (dev) process.stderr.write(devBanner(dev, hp(config.gate.listen), hp(config.gate.admin)));
    else process.stderr.write(`egress-gate: proxy on ${hp(config.gate.listen)}, admin on ${hp(config.gate.admin)}, mode ${config.gate.mode}\n`);

    return new Promise<number>((resolve) => {
      const stop = (sig: string) => {
        gate.log.info({ signal: sig }, 'stopping: draining in-flight requests');
        const done = async (code: number) => {
          await flushLogger(gate.log);
          // Whatever handle a library left open, a stopped gate exits.
          setTimeout(() => process.exit(code), 200).unref();
          resolve(code);
        };
        gate.stop().then(() => done(0), (e) => { process.stderr.write(`egress-gate: stop failed: ${(e as Error).message}\n`); done(2); });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => { void gate.reload(); });
    });
  },
};
