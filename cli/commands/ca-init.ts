/**
 * `egress-gate ca init --out DIR [--force]` (SPEC §2): writes a new gate CA, `ca.pem` and
 * `ca-key.pem` (mode 0600). Prints the two paths and how to trust the CA; never the key.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CaError, initCa } from '../../certs/ca.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const USAGE = `usage: egress-gate ca init --out DIR [--force]

Creates the gate's certificate authority (ECDSA P-256, valid 10 years) in DIR:
  DIR/ca.pem       the CA certificate (give it to agents: NODE_EXTRA_CA_CERTS, or "ca bundle")
  DIR/ca-key.pem   its private key, mode 0600
  --out DIR   where to write (created if missing)
  --force     replace an existing CA (agents trusting the old one stop trusting the gate)
An existing ca.pem or ca-key.pem is never replaced without --force.`;

export const command: Command = {
  name: 'ca init',
  summary: 'create the gate CA (ca.pem, ca-key.pem)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, force: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.out) throw new UsageError('--out DIR is required');
    const outDir = path.resolve(values.out);
    try {
      const { certPath, keyPath } = await initCa(outDir, { force: values.force });
      process.stdout.write(`wrote ${certPath}\nwrote ${keyPath} (mode 0600)\n`);
      process.stdout.write(`trust it: NODE_EXTRA_CA_CERTS=${certPath} (Node), or "egress-gate ca bundle --ca ${certPath} --out bundle.pem" for SSL_CERT_FILE\n`);
      return 0;
    } catch (e) {
      if (e instanceof CaError) throw new RuntimeError(e.message);
      throw new RuntimeError(`cannot write the CA in ${outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  },
};
