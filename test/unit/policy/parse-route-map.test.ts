import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, formatProblem, type ConfigProblem } from '../../../policy/config-error.js';
import { parseRouteMap, type ParsedRouteMap } from '../../../policy/parse-route-map.js';

const dir = fileURLToPath(new URL('../../fixtures/policy/routes/', import.meta.url));
const secretsDir = fileURLToPath(new URL('../../fixtures/policy/secrets/', import.meta.url));
const fixture = (name: string): string => path.join(dir, name);

function parse(name: string, opts = { secretsDir }): ParsedRouteMap {
  return parseRouteMap(readFileSync(fixture(name), 'utf8'), fixture(name), opts);
}

function problems(name: string, opts = { secretsDir }): ConfigProblem[] {
  try {
    parse(name, opts);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    for (const p of e.problems) assert.equal(p.file, fixture(name));
    return e.problems;
  }
  assert.fail(`${name} should be invalid`);
}

type Expected = [line: number, col: number, text: string];

/** The table: each fixture with exactly the problems it must report, at these positions. */
const invalid: Record<string, Expected[]> = {
  'authorize-invalid.yaml': [[8, 16, '"authorize" must be one of permit | online | permit+online | none | deny (got "sometimes")']],
  'unknown-keys.yaml': [
    [4, 5, 'unknown key "authorise" in route'],
    [7, 7, 'unknown key "verb" in match'],
    [9, 1, 'unknown key "colour" in route map'],
  ],
  'hosts.yaml': [
    [2, 61, 'a wildcard may only be the whole leftmost label'],
    [3, 61, 'a wildcard may only be the whole leftmost label'],
    [4, 61, 'a wildcard may only be the whole leftmost label'],
    [5, 61, 'a wildcard may only be the whole leftmost label'],
    [6, 61, 'must be written as a dotted quad'],
    [7, 61, 'is not valid in a host name'],
  ],
  'paths.yaml': [
    [2, 75, 'must start with "/"'],
    [3, 75, '"/**" may only be the last segment'],
    [4, 75, '"*" is only allowed as a trailing "/**"'],
    [5, 75, 'a parameter must be a whole segment'],
    [6, 75, 'parameter {id} appears twice'],
    [7, 75, 'dot segments never match'],
    [8, 83, 'method "*" must be an HTTP method'],
    [9, 75, 'port 70000 must be a number from 1 to 65535'],
    [10, 80, 'port "x" must be a number from 1 to 65535'],
    [11, 77, '"scheme" must be one of http | https'],
  ],
  'modes.yaml': [
    [7, 11, '"mode: report" contradicts "must_enforce: true"'],
    [12, 17, '"on_silence" must be one of terminate | pause'],
    [13, 16, '"pause_max" must be a duration'],
    [14, 17, '"single_use" must be true or false'],
  ],
  'tunnel.yaml': [
    [4, 12, 'its method must be "*" or omitted'],
    [9, 12, 'its path must be "/**" or omitted'],
    [17, 16, 'cannot bind the body or query'],
  ],
  'credentials.yaml': [
    [15, 14, 'secret "missing-one" not found in'],
    [22, 14, 'must name exactly one ${secret:NAME}'],
    [29, 14, 'secret name "../outside" must be one file name'],
    [36, 14, 'secret "two-lines" must be one non-empty line'],
  ],
  'exceptions.yaml': [
    [19, 18, '"approved_by" must not be empty'],
    [20, 14, '"expires" must be an RFC 3339 timestamp'],
    [21, 5, '"expires" is required'],
    [25, 18, '"approved_by" must be a list of strings'],
  ],
  'syntax.yaml': [[4, 3, 'Flow sequence']],
  'jsonrpc.yaml': [
    [17, 37, 'a route with "jsonrpc" matches JSON-RPC requests, which are POSTed: its method must be POST or omitted'],
    [21, 77, '"tool" matches params.name of a tools/call request; it needs "method: tools/call" (got "tools/list")'],
    [25, 50, 'jsonrpc: "method" is required'],
    [25, 60, 'unknown key "params" in jsonrpc'],
    [29, 12, 'a tunnel route cannot match "jsonrpc"'],
    [34, 50, 'jsonrpc must be a mapping'],
  ],
};

describe('parseRouteMap: every problem at its file:line:col', () => {
  for (const [name, expected] of Object.entries(invalid)) {
    it(name, () => {
      const got = problems(name);
      const show = got.map(formatProblem).join('\n');
      for (const [line, col, text] of expected) {
        assert.ok(got.some((p) => p.line === line && p.col === col && p.message.includes(text)), `missing ${line}:${col} ${text}\ngot:\n${show}`);
      }
      assert.equal(got.length, expected.length, `exactly the expected problems\ngot:\n${show}`);
    });
  }
});

describe('parseRouteMap: valid maps', () => {
  it('converts every field, with defaults and where', () => {
    const { routes, exceptions } = parse('valid.yaml');
    assert.equal(exceptions.length, 0);
    const file = fixture('valid.yaml');
    assert.deepEqual(routes[0], {
      surface: 'public', action: 'read',
      match: { scheme: 'http', host: 'open.test', ports: [8080], methods: '*', path: '/open/**' },
      authorize: 'none', singleUse: true, bindBody: false, bindQuery: false, mustEnforce: false,
      onSilence: 'terminate', pauseMaxMs: 5000, tunnel: false, where: { file, line: 2, col: 5 },
    });
    assert.deepEqual(routes[1]?.match, { host: 'api.test', methods: ['GET', 'HEAD'], path: '/v1/items/{id}' });
    assert.equal(routes[1]?.singleUse, false, 'GET/HEAD only: reusable by default');
    assert.deepEqual(routes[2], {
      surface: 'payments', action: 'charge.create',
      match: { scheme: 'https', host: 'api.test', ports: [443, 8443], methods: ['POST'], path: '/v1/charges' },
      authorize: 'permit', singleUse: true, bindBody: true, bindQuery: true, mode: 'report', mustEnforce: false,
      onSilence: 'pause', pauseMaxMs: 2000, tunnel: false, where: { file, line: 18, col: 5 },
    });
    assert.equal(routes[3]?.singleUse, true, 'an explicit single_use wins over the GET default');
  });

  it('canonicalizes hosts: lowercase, no trailing dot, wildcard kept, IP literals canonical', () => {
    const text = readFileSync(fixture('hosts.yaml'), 'utf8').split('\n').filter((l) => !/action: a\d/.test(l)).join('\n');
    const { routes } = parseRouteMap(text, 'hosts.yaml');
    assert.deepEqual(routes.map((r) => r.match.host), ['api.example.com', '*.example.com', '2001:db8::1', '10.0.0.1']);
  });

  it('accepts a tunnel route with method "*" and path "/**" (or omitted)', () => {
    const text = readFileSync(fixture('tunnel.yaml'), 'utf8').split('\n').slice(17).join('\n');
    const { routes } = parseRouteMap(`routes:\n${text}`, 'tunnel.yaml');
    assert.deepEqual(routes.map((r) => [r.action, r.tunnel, r.match.methods, r.match.path]), [['ok', true, '*', '/**']]);
  });

  it('reads jsonrpc clauses: the HTTP method POST by default, tool "*" as no tool', () => {
    const text = readFileSync(fixture('jsonrpc.yaml'), 'utf8').split('\n').slice(0, 14).join('\n');
    const { routes } = parseRouteMap(text, 'jsonrpc.yaml');
    assert.deepEqual(routes.map((r) => [r.action, r.match.methods, r.match.jsonrpc]), [
      ['any', ['POST'], { method: '*' }],
      ['create', ['POST'], { method: 'tools/call', tool: 'create_issue' }],
      ['tools.any', ['POST'], { method: 'tools/call' }],
    ]);
  });

  it('resolves a secret at load and names it, trimming the newline', () => {
    const { routes } = parseRouteMap(readFileSync(fixture('credentials.yaml'), 'utf8').split('\n').slice(0, 8).join('\n'), 'c.yaml', { secretsDir });
    assert.deepEqual(routes[0]?.credentials, { header: 'Authorization', value: 'Bearer sk_test_123', secret: 'stripe-live' });
  });

  it('refuses credentials when no secrets.dir is configured, without the value in the message', () => {
    const text = readFileSync(fixture('credentials.yaml'), 'utf8').split('\n').slice(0, 8).join('\n');
    assert.throws(() => parseRouteMap(text, 'c.yaml', {}), (e: ConfigError) => e.problems.length === 1 && e.problems[0]?.line === 8 && (e.problems[0]?.message ?? '').includes('no secrets.dir'));
  });

  it('readSecrets: false (the arbiter) checks a reference without reading it: no secrets.dir needed, the value stays the reference', () => {
    const text = readFileSync(fixture('credentials.yaml'), 'utf8').split('\n').slice(0, 8).join('\n');
    const { routes } = parseRouteMap(text, 'c.yaml', { readSecrets: false });
    assert.deepEqual(routes[0]?.credentials, { header: 'Authorization', value: 'Bearer ${secret:stripe-live}', secret: 'stripe-live' });
    const bad = text.replace('${secret:stripe-live}', '${secret:../outside}');
    assert.throws(() => parseRouteMap(bad, 'c.yaml', { readSecrets: false }), (e: ConfigError) => (e.problems[0]?.message ?? '').includes('must be one file name'));
  });

  it('keeps exceptions, expired ones included, with expiry in ms', () => {
    const text = readFileSync(fixture('exceptions.yaml'), 'utf8').split('\n').slice(0, 14).join('\n');
    const { exceptions } = parseRouteMap(text, 'e.yaml');
    assert.deepEqual(exceptions.map((x) => [x.id, x.approvedBy, x.expires, x.where.line]), [
      ['EXC-1', ['alice@sec', 'bob@risk'], Date.UTC(2099, 11, 1), 3],
      ['EXC-OLD', ['alice@sec'], Date.UTC(2000, 11, 31, 22), 9],
    ]);
  });

  it('treats an empty file as an empty map, and a non-list as an error', () => {
    assert.deepEqual(parseRouteMap('', 'e.yaml'), { routes: [], exceptions: [] });
    assert.deepEqual(parseRouteMap('# only a comment\n', 'e.yaml'), { routes: [], exceptions: [] });
    assert.throws(() => parseRouteMap('routes: {a: 1}\n', 'e.yaml'), (e: ConfigError) => e.problems[0]?.line === 1 && e.problems[0]?.col === 9);
  });
});
