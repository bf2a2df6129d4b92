/**
 * `egress-gate permit issue …` (SPEC §2): mints a permit for one request, for development and
 * tests, and prints the compact JWS. The binding (req.htu, qh, bdh) is computed by the same
 * code the gate checks with.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { JWK } from 'jose';
import { parseDuration } from '../../policy/config-values.js';
import { connectBinding } from '../../policy/permits/bind-request.js';
import { issuePermit } from '../../policy/permits/issue-permit.js';
import { RuntimeError, UsageError, type Command } from './command.js';

const USAGE = `usage: egress-gate permit issue --key JWKFILE --iss ISS --aud AUD --sub SUB --surface S --action A
                             (--method M --url URL [--body FILE] | --connect HOST:PORT)
                             [--idk KEY] [--txn ID] [--ttl 60s] [--jti ID]

Prints a permit (compact JWS, typ permit+jwt) signed with the private JWK in JWKFILE.
  --aud AUD      the gate id; repeat for several audiences
  --url URL      the absolute request URL; req.htu is its binding form, req.qh is set when it has a query
  --body FILE    bind the body: req.bdh is the SHA-256 of FILE's bytes
  --connect HOST:PORT
                 a tunnel permit (tunnel: true routes): req.htm CONNECT, req.htu HOST:PORT
                 (an IP literal too: 127.0.0.1:8444, [::1]:443); sent as Proxy-Authorization: Bearer
  --idk KEY      idempotency key: retries with "Idempotency-Key: KEY" may reuse the permit
  --txn ID       the agent run or task, copied into receipts
  --ttl 60s      lifetime (ms, s, m, h; whole seconds)
  --jti ID       the permit id (default: a random UUID)`;

const REQUIRED = ['key', 'iss', 'aud', 'sub', 'surface', 'action'] as const;

export const command: Command = {
  name: 'permit issue',
  summary: 'mint a permit for one request (development and tests)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        key: { type: 'string' }, iss: { type: 'string' }, aud: { type: 'string', multiple: true }, sub: { type: 'string' },
        surface: { type: 'string' }, action: { type: 'string' }, method: { type: 'string' }, url: { type: 'string' },
        body: { type: 'string' }, idk: { type: 'string' }, txn: { type: 'string' }, ttl: { type: 'string', default: '60s' },
        jti: { type: 'string' }, connect: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const tunnel = values.connect !== undefined;
    const required: readonly (keyof typeof values)[] = tunnel ? REQUIRED : [...REQUIRED, 'method', 'url'];
    const missing = required.filter((k) => values[k] === undefined || values[k].length === 0);
    if (missing.length > 0) throw new UsageError(`missing ${missing.map((k) => `--${String(k)}`).join(', ')}`);
    let request: { method: string; url: string };
    if (tunnel) {
      if (values.url !== undefined) throw new UsageError('--connect and --url exclude each other: a tunnel permit binds host:port only');
      if (values.body !== undefined) throw new UsageError('--connect takes no --body: a tunnel permit binds host:port only');
      if (values.method !== undefined && values.method.toUpperCase() !== 'CONNECT') throw new UsageError(`--connect mints a CONNECT permit; --method ${values.method} does not go with it`);
      try {
        request = { method: 'CONNECT', url: connectBinding(values.connect as string) };
      } catch {
        throw new UsageError(`--connect needs HOST:PORT, e.g. 127.0.0.1:8444 or api.example.com:443 (got "${values.connect}")`);
      }
    } else {
      const url = values.url as string;
      const scheme = URL.canParse(url) ? new URL(url).protocol : undefined;
      if (scheme !== 'http:' && scheme !== 'https:') {
        const hint = /^\[?[^/\s]+\]?:\d+$/.test(url) ? `; for a tunnel permit (CONNECT ${url}) use --connect ${url}` : '';
        throw new UsageError(`--url must be an absolute http:// or https:// URL (got "${url}")${hint}`);
      }
      if (values.method?.toUpperCase() === 'CONNECT') throw new UsageError(`a CONNECT permit binds host:port: use --connect HOST:PORT instead of --method CONNECT --url`);
      request = { method: values.method as string, url };
    }
    const ttlMs = parseDuration(values.ttl);
    if (ttlMs === undefined || ttlMs < 1000 || ttlMs % 1000 !== 0) throw new UsageError(`--ttl must be a whole number of seconds, e.g. 60s (got "${values.ttl}")`);

    let key: JWK;
    try {
      key = JSON.parse(await readFile(values.key as string, 'utf8')) as JWK;
    } catch (e) {
      throw new RuntimeError(`cannot read the key ${values.key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let body: Buffer | undefined;
    if (values.body !== undefined) {
      try {
        body = await readFile(values.body);
      } catch (e) {
        throw new RuntimeError(`cannot read the body ${values.body}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const aud = values.aud as string[];
    let token: string;
    try {
      token = await issuePermit({
        key,
        iss: values.iss as string,
        aud: aud.length === 1 ? (aud[0] as string) : aud,
        sub: values.sub as string,
        surface: values.surface as string,
        action: values.action as string,
        request: { ...request, ...(body ? { body } : {}) },
        ttlS: ttlMs / 1000,
        ...(values.idk !== undefined ? { idk: values.idk } : {}),
        ...(values.txn !== undefined ? { txn: values.txn } : {}),
        ...(values.jti !== undefined ? { jti: values.jti } : {}),
      });
    } catch (e) {
      // Bad key material or a URL the gate would refuse: the arguments are at fault.
      throw new UsageError((e as Error).message);
    }
    process.stdout.write(`${token}\n`);
    return 0;
  },
};
