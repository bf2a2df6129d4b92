/**
 * Builds validated Route and PolicyException values directly, so matching tests do not
 * depend on the YAML loader. Defaults are the loader's defaults.
 */
import type { PolicyException, Route } from '../../../policy/types.js';

export type RouteSpec = Partial<Omit<Route, 'match'>> & { match: Partial<Route['match']> & { host: string } };

let line = 0;

/** A route; `where` defaults to a fresh line of `routes.yaml`. */
export function route(spec: RouteSpec): Route {
  line += 1;
  const { match, ...rest } = spec;
  return {
    surface: 'svc',
    action: `act${line}`,
    authorize: 'permit',
    singleUse: true,
    bindBody: false,
    bindQuery: false,
    mustEnforce: false,
    onSilence: 'terminate',
    pauseMaxMs: 5000,
    tunnel: false,
    where: { file: 'routes.yaml', line, col: 5 },
    ...rest,
    match: { methods: '*', path: '/**', ...match },
  };
}

/** An exception; `where` defaults to a fresh line of `routes.yaml`. */
export function exception(spec: Partial<PolicyException> & { id: string; expires: number }): PolicyException {
  line += 1;
  return {
    surface: 'svc',
    action: 'act',
    reason: 'test',
    approvedBy: ['alice@sec', 'bob@risk'],
    where: { file: 'routes.yaml', line, col: 5 },
    ...spec,
  };
}

/** A position in a named file. */
export function at(file: string, l: number): Route['where'] {
  return { file, line: l, col: 5 };
}
