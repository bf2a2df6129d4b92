/**
 * The `policy` section of a config (SPEC §3), read the same way for the gate and the arbiter
 * (SPEC §12: "the gates' route maps (files, folders, or a signed bundle URL)"): `routes` is
 * files and folders, or exactly one https URL of a signed bundle, which then needs
 * `bundle_keys`; `max_stale` bounds how long the last good bundle serves.
 */
import type { Node } from 'yaml';
import { readDuration, readString, readStringList } from './read-fields.js';
import type { RouteMapSettings } from './types.js';
import type { Fields, YamlSource } from './yaml-source.js';

/** The keys of the `policy` section. */
export const ROUTE_MAP_KEYS = ['routes', 'bundle_keys', 'max_stale'] as const;

const DEFAULT_MAX_STALE_MS = 300_000;

/**
 * Reads the `policy` section (undefined when absent: a problem at `missingAt`). Problems are
 * recorded on `src`; the result is only meaningful once `src.throwIfProblems()` has passed.
 */
export function readRouteMapSettings(
  pol: Fields | undefined, src: YamlSource, abs: (p: string) => string, missingAt: Node | null,
): RouteMapSettings {
  const settings: RouteMapSettings = { routes: [], maxStaleMs: pol ? readDuration(pol, 'max_stale', DEFAULT_MAX_STALE_MS) : DEFAULT_MAX_STALE_MS };
  if (!pol) {
    src.problem(missingAt, 'config: "policy" with "routes" is required');
    return settings;
  }
  if (!pol.requires('routes')) return settings;
  const routes = readStringList(pol, 'routes', { allowSingle: true, nonEmpty: true }) ?? [];
  const urls = routes.filter((r) => /^[a-z][a-z0-9+.-]*:\/\//i.test(r.value));
  for (const u of urls) {
    if (!/^https:\/\//i.test(u.value) || !URL.canParse(u.value)) src.problem(u.node, 'policy: a remote route-map bundle must be an https URL');
  }
  if (urls.length > 0 && routes.length > 1) src.problem(pol.at('routes'), 'policy: "routes" may name one https URL of a signed bundle, or files and folders, not both or several URLs');
  if (urls.length > 0 && !pol.has('bundle_keys')) pol.problem('routes', 'policy: a remote bundle needs "bundle_keys" (the JWKS its signature must verify with)');
  settings.routes = routes.map((r) => (urls.includes(r) ? r.value : abs(r.value)));
  const bundleKeys = readString(pol, 'bundle_keys');
  if (bundleKeys !== undefined) settings.bundleKeys = abs(bundleKeys);
  return settings;
}
