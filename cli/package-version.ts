/**
 * The package version, read from the package.json next to the code: `../package.json` from
 * source (cli/), `../../package.json` from the build (dist/cli/) — wherever the package is
 * installed (a global install, a tarball, a checkout). Not npm_package_version, which is set
 * only under `npm run`/`npx` in the package's own folder.
 */
import { readFileSync } from 'node:fs';

export function packageVersion(): string | undefined {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'egress-gate' && pkg.version) return pkg.version;
    } catch { /* next */ }
  }
  return undefined;
}
