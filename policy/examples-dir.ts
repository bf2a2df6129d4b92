/**
 * Where the example route maps live: the development default's policy (SPEC §2, `start`
 * with no config) and what `check` validates when given nothing else.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Absolute path of `policy/examples/`, found from this module whether it runs from source
 * (`policy/`) or from the build (`dist/policy/`, whose examples stay in the source tree).
 */
export function examplesDir(): string {
  const candidates = [new URL('./examples/', import.meta.url), new URL('../../policy/examples/', import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0] as URL);
}
