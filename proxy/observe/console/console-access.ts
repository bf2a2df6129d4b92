/**
 * Who may read the admin console's data (its APIs and stream). With `gate.admin_token_file`
 * set — required when `gate.admin` is not loopback — every console API and stream request
 * must carry `Authorization: Bearer <token>` (compared in constant time). Without a token
 * (loopback only), the Host header must name a loopback address or `localhost`, so a web page
 * elsewhere cannot read the console through DNS rebinding. The page shell (HTML, script,
 * style: no data) is served to anyone who reaches the listener; it asks for the token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { isIP } from 'node:net';
import { ConfigError } from '../../../policy/config-error.js';
import { isLoopbackHost } from '../../../policy/config-values.js';
import type { GateConfig } from '../../../policy/types.js';

export type AccessAnswer = { ok: true } | { ok: false; status: 401 | 403; message: string };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The console's access rule: a token, or loopback Host names only. */
export class ConsoleAccess {
  readonly #token: Buffer | undefined;

  constructor(token: string | undefined) {
    this.#token = token === undefined ? undefined : digest(token);
  }

  get tokenRequired(): boolean {
    return this.#token !== undefined;
  }

  /** Reads `gate.admin_token_file` (trimmed; empty refuses the start). */
  static async fromConfig(config: GateConfig): Promise<ConsoleAccess> {
    const file = config.gate.adminTokenFile;
    if (file === undefined) return new ConsoleAccess(undefined);
    let token: string;
    try {
      token = (await readFile(file, 'utf8')).trim();
    } catch (e) {
      throw new ConfigError([{ file: config.source, line: 0, col: 0, message: `gate: admin_token_file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }]);
    }
    if (token.length < 16 || /\s/.test(token)) {
      throw new ConfigError([{ file: config.source, line: 0, col: 0, message: `gate: admin_token_file ${file} must hold one token of at least 16 characters without white space` }]);
    }
    return new ConsoleAccess(token);
  }

  check(req: http.IncomingMessage): AccessAnswer {
    if (this.#token !== undefined) {
      const m = /^Bearer ([^\s]+)$/.exec(req.headers.authorization ?? '');
      if (m && timingSafeEqual(digest(m[1] as string), this.#token)) return { ok: true };
      return { ok: false, status: 401, message: 'the admin console needs its bearer token (gate.admin_token_file)' };
    }
    return loopbackHostHeader(req.headers.host) ? { ok: true } : { ok: false, status: 403, message: 'the admin console answers only requests addressed to a loopback host' };
  }
}

/** True for a Host header naming localhost or a loopback IP literal (any port). */
export function loopbackHostHeader(host: string | undefined): boolean {
  if (!host) return false;
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:]+))(?::\d{1,5})?$/i.exec(host);
  const name = (m?.[1] ?? m?.[2] ?? '').toLowerCase();
  if (name === 'localhost') return true;
  return isIP(name) !== 0 && isLoopbackHost(name);
}
