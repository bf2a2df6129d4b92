/**
 * Route-map sources (files and folders of `*.yaml`/`*.yml`) read and validated together.
 * All files are read even after one fails, so `check` reports every problem at once.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { parseRouteMap, type RouteMapOptions } from './parse-route-map.js';
import type { PolicyException, Route } from './types.js';

export interface LoadedRouteMaps {
  routes: Route[];
  exceptions: PolicyException[];
  /** Every file read, in load order, with its exact text (the policy digest covers these). */
  sources: { path: string; text: string }[];
}

/**
 * Loads route maps from absolute (or cwd-relative) files and folders. A folder contributes
 * its `*.yaml` and `*.yml` files sorted by name (not recursive; hidden entries such as a
 * Kubernetes mount's `..data` are skipped). Throws ConfigError with all problems.
 */
export async function loadRouteMaps(sources: string[], opts: RouteMapOptions = {}): Promise<LoadedRouteMaps> {
  const problems: ConfigProblem[] = [];
  const out: LoadedRouteMaps = { routes: [], exceptions: [], sources: [] };
  const files: string[] = [];
  for (const s of sources) {
    const abs = path.resolve(s);
    try {
      const st = await stat(abs);
      if (st.isDirectory()) {
        const names = (await readdir(abs)).filter((n) => !n.startsWith('.') && /\.ya?ml$/i.test(n)).sort();
        const inDir: string[] = [];
        for (const n of names) if ((await stat(path.join(abs, n))).isFile()) inDir.push(path.join(abs, n));
        if (inDir.length === 0) problems.push({ file: abs, line: 0, col: 0, message: 'route-map folder holds no *.yaml or *.yml files' });
        files.push(...inDir);
      } else files.push(abs);
    } catch (e) {
      problems.push({ file: abs, line: 0, col: 0, message: `cannot read route maps: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  }
  const seenFiles = new Set<string>();
  const exceptionAt = new Map<string, PolicyException>();
  for (const file of files) {
    // The same file named twice (directly and through its folder) is loaded once.
    if (seenFiles.has(file)) continue;
    seenFiles.add(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      problems.push({ file, line: 0, col: 0, message: `cannot read route map: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    out.sources.push({ path: file, text });
    try {
      const map = parseRouteMap(text, file, opts);
      out.routes.push(...map.routes);
      for (const ex of map.exceptions) {
        const first = exceptionAt.get(ex.id);
        if (first) {
          problems.push({ ...ex.where, message: `exception ${JSON.stringify(ex.id)} is also defined at ${first.where.file}:${first.where.line}` });
          continue;
        }
        exceptionAt.set(ex.id, ex);
        out.exceptions.push(ex);
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}
