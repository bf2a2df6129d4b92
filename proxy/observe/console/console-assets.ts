/**
 * The console page's files (`web/console/`: HTML, ES modules, CSS; no build step, no CDN),
 * served by the admin listener under a strict Content-Security-Policy: scripts, styles and
 * fetches from the listener itself only, no inline script or style, no framing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Absolute path of `web/console/`, from source (`proxy/observe/console/`) or the build (`dist/proxy/observe/console/`). */
export function consoleAssetsDir(): string {
  const candidates = [new URL('../../../web/console/', import.meta.url), new URL('../../../../web/console/', import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(path.join(p, 'index.html')));
  return found ?? fileURLToPath(candidates[0] as URL);
}

interface Asset { type: string; bytes: Buffer }

/** The page's files, read once; only names found in the folder are served (no path is joined from a request). */
export class ConsoleAssets {
  #assets: Map<string, Asset> | undefined;
  constructor(private readonly dir = consoleAssetsDir()) {}

  #load(): Map<string, Asset> {
    if (this.#assets) return this.#assets;
    const m = new Map<string, Asset>();
    for (const name of readdirSync(this.dir)) {
      const type = TYPES[path.extname(name)];
      if (type && /^[a-z0-9-]+\.[a-z]+$/.test(name)) m.set(name, { type, bytes: readFileSync(path.join(this.dir, name)) });
    }
    this.#assets = m;
    return m;
  }

  /** Answers `/` (the page) and `/console/<file>`; false for anything else. */
  serve(pathname: string, res: http.ServerResponse, head: boolean): boolean {
    const name = pathname === '/' ? 'index.html' : pathname.startsWith('/console/') ? pathname.slice('/console/'.length) : undefined;
    const a = name === undefined ? undefined : this.#load().get(name);
    if (!a) return false;
    res.writeHead(200, {
      'content-type': a.type, 'content-length': a.bytes.length, 'content-security-policy': CONSOLE_CSP,
      'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-cache',
      'cross-origin-resource-policy': 'same-origin',
    });
    res.end(head ? undefined : a.bytes);
    return true;
  }
}
