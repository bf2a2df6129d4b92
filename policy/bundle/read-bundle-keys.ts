/** `policy.bundle_keys` (SPEC §3): the JWKS file a remote route-map bundle must verify with. */
import { readFile } from 'node:fs/promises';
import type { JSONWebKeySet } from 'jose';
import { ConfigError } from '../config-error.js';

/** Reads `policy.bundle_keys`; an unreadable or empty JWKS is a ConfigError (start refuses). */
export async function readBundleKeys(file: string): Promise<JSONWebKeySet> {
  let jwks: unknown;
  try {
    jwks = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError([{ file, line: 0, col: 0, message: `policy.bundle_keys: cannot read the JWKS (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }]);
  }
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError([{ file, line: 0, col: 0, message: 'policy.bundle_keys: the JWKS holds no keys' }]);
  }
  return jwks as JSONWebKeySet;
}
