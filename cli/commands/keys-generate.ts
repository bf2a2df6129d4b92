/**
 * `egress-gate keys generate --out DIR [--kid ID] [--alg EdDSA|ES256] [--force]` (SPEC §2):
 * writes `private.jwk.json` (mode 0600) and `jwks.json` (public) for an issuer or receipts.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateKeyFiles, KEY_ALGORITHMS, type KeyAlgorithm } from '../../policy/permits/generate-keys.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const USAGE = `usage: egress-gate keys generate --out DIR [--kid ID] [--alg EdDSA|ES256] [--force]

Generates a signing key pair in DIR (created if missing):
  DIR/private.jwk.json  the private JWK (kid, alg, use "sig"), mode 0600
  DIR/jwks.json         the public key as a JWKS, for permits.issuers[].jwks or receipts verify --key
  --kid ID     the key id (default: the key's RFC 7638 thumbprint)
  --alg ALG    EdDSA (Ed25519, default) or ES256 (P-256)
  --force      replace an existing private.jwk.json`;

export const command: Command = {
  name: 'keys generate',
  summary: 'generate a signing key (private.jwk.json, jwks.json)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { out: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string', default: 'EdDSA' }, force: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.out) throw new UsageError('--out DIR is required');
    if (!(KEY_ALGORITHMS as readonly string[]).includes(values.alg)) throw new UsageError(`--alg must be one of ${KEY_ALGORITHMS.join(', ')}`);
    if (values.kid !== undefined && values.kid.trim() === '') throw new UsageError('--kid must not be empty');
    const outDir = path.resolve(values.out);
    try {
      const k = await generateKeyFiles(outDir, { alg: values.alg as KeyAlgorithm, force: values.force, ...(values.kid !== undefined ? { kid: values.kid } : {}) });
      process.stdout.write(`wrote ${k.privatePath} (mode 0600, kid ${k.kid}, alg ${k.alg})\nwrote ${k.jwksPath}\n`);
      return 0;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new RuntimeError(`${path.join(outDir, 'private.jwk.json')} exists; use --force to replace it`);
      throw new RuntimeError(`cannot write keys in ${outDir}: ${code ?? (e as Error).message}`);
    }
  },
};
