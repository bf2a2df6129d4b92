/**
 * `egress-gate ca bundle --out FILE [--config FILE | --ca FILE]` (SPEC §2, §11): writes
 * Node's public roots plus the gate CA, for agents configured with SSL_CERT_FILE,
 * REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE.
 *
 * Which CA: `--ca FILE`; else the config's `tls.ca_cert` (`--config FILE`, or
 * ./egress-gate.yaml when it exists, as `start` picks its config); else the development
 * default's `./.egress-gate/ca/ca.pem`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CaBundleError, buildBundle } from '../../certs/bundle.js';
import { writeFileAtomic } from '../../certs/write-file-atomic.js';
import { ConfigError } from '../../policy/config-error.js';
import { loadConfig } from '../../policy/load-config.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const USAGE = `usage: egress-gate ca bundle --out FILE [--config FILE | --ca FILE]

Writes a PEM bundle of public root CAs (those Node ships) plus the gate CA, for clients
that read one trust file (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE).
  --out FILE     where to write the bundle
  --ca FILE      the gate CA certificate to include
  --config FILE  take the gate CA from this config's tls.ca_cert
With neither: tls.ca_cert of ./egress-gate.yaml when it exists, else the development
default ./.egress-gate/ca/ca.pem.`;

/** The development default's CA certificate, relative to the working directory. */
export const DEV_CA_CERT = path.join('.egress-gate', 'ca', 'ca.pem');

export const command: Command = {
  name: 'ca bundle',
  summary: 'write public roots plus the gate CA, for SSL_CERT_FILE users',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, config: { type: 'string' }, ca: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.out) throw new UsageError('--out FILE is required');
    if (values.ca && values.config) throw new UsageError('--ca and --config are exclusive');
    const caPath = await resolveCaPath(values.ca, values.config);
    let caPem: string;
    try {
      caPem = await readFile(caPath, 'utf8');
    } catch (e) {
      throw new RuntimeError(`cannot read the gate CA ${caPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let bundle: string;
    try {
      bundle = buildBundle(caPem);
    } catch (e) {
      if (e instanceof CaBundleError) throw new RuntimeError(`${caPath}: ${e.message}`);
      throw e;
    }
    const out = path.resolve(values.out);
    // Written beside, fsynced and renamed: a reader never sees half a bundle, a crash never leaves an empty one.
    try {
      await writeFileAtomic(out, bundle, 0o644);
    } catch (e) {
      throw new RuntimeError(`cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    process.stdout.write(`wrote ${out} (public roots and the gate CA from ${caPath})\n`);
    return 0;
  },
};

async function resolveCaPath(ca: string | undefined, config: string | undefined): Promise<string> {
  if (ca) return path.resolve(ca);
  const configFile = config ?? (existsSync('egress-gate.yaml') ? 'egress-gate.yaml' : undefined);
  if (configFile === undefined) return path.resolve(DEV_CA_CERT);
  try {
    const cfg = await loadConfig(path.resolve(configFile));
    if (!cfg.tls.caCert) throw new RuntimeError(`${cfg.source}: no tls.ca_cert (TLS interception is off); pass --ca FILE`);
    return cfg.tls.caCert;
  } catch (e) {
    if (e instanceof ConfigError) {
      // Every problem as file:line:col: message, one a line, as check prints them.
      throw new RuntimeError(e.message);
    }
    throw e;
  }
}
