/** Routes with a `jsonrpc` clause (SPEC §4): matching by call, specificity, conflicts, and which requests need their body. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../policy/compile-policy.js';
import { ConfigError } from '../../../policy/config-error.js';
import { normalizeRequest } from '../../../policy/normalize-request.js';
import type { JsonRpcCall, Route } from '../../../policy/types.js';
import { at, route } from './route-factory.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const compile = (routes: Route[]) => compilePolicy({ routes, exceptions: [], sources: [] }, { nowMs: NOW });
const POST_MCP = normalizeRequest({ method: 'POST', target: 'http://mcp.test/mcp' });
const call = (method: string, tool?: string): JsonRpcCall => ({ method, notification: false, ...(tool !== undefined ? { tool } : {}) });
const rpc = (action: string, jsonrpc: Route['match']['jsonrpc'], extra: Partial<Route['match']> = {}) =>
  route({ action, match: { host: 'mcp.test', path: '/mcp', methods: ['POST'], jsonrpc, ...extra } });

describe('compilePolicy: jsonrpc specificity', () => {
  const routes = [
    route({ action: 'plain', match: { host: 'mcp.test', path: '/mcp', methods: ['POST'] } }),
    rpc('any-method', { method: '*' }),
    rpc('tools-call', { method: 'tools/call' }),
    rpc('create', { method: 'tools/call', tool: 'create_issue' }),
    rpc('list', { method: 'tools/list' }),
  ];
  const p = compile(routes);
  const table: [string, JsonRpcCall | undefined, string][] = [
    ['a named tool over its method', call('tools/call', 'create_issue'), 'create'],
    ['a named method over "*" (another tool)', call('tools/call', 'delete_repo'), 'tools-call'],
    ['a named method over "*"', call('tools/list'), 'list'],
    ['"*" over no clause', call('initialize'), 'any-method'],
    ['no call (body not read): only the route without a clause', undefined, 'plain'],
  ];
  for (const [name, c, want] of table) it(name, () => assert.equal(p.match(POST_MCP, c)?.action, want));

  it('a jsonrpc clause loses to a more specific path: the body does not matter then', () => {
    const q = compile([
      route({ action: 'exact', match: { host: 'mcp.test', path: '/mcp', methods: ['POST'] } }),
      rpc('rest', { method: '*' }, { path: '/**' }),
    ]);
    assert.equal(q.routesByBody(POST_MCP), false);
    assert.equal(q.match(POST_MCP, call('tools/call', 'x'))?.action, 'exact');
  });

  it('a jsonrpc clause weighs more than an explicit port and a scheme', () => {
    const q = compile([
      route({ action: 'port', match: { host: 'mcp.test', path: '/mcp', methods: ['POST'], ports: [8080], scheme: 'http' } }),
      rpc('clause', { method: '*' }, { ports: '*' }),
    ]);
    const at8080 = normalizeRequest({ method: 'POST', target: 'http://mcp.test:8080/mcp' });
    assert.equal(q.routesByBody(at8080), true);
    assert.equal(q.match(at8080, call('initialize'))?.action, 'clause');
  });

  it('a call no clause names falls to the route without one, or is unmatched', () => {
    assert.equal(compile([rpc('create', { method: 'tools/call', tool: 'create_issue' })]).match(POST_MCP, call('tools/call', 'other')), undefined);
  });
});

describe('compilePolicy: routesByBody, known at load', () => {
  const p = compile([
    rpc('mcp', { method: '*' }),
    rpc('wild', { method: '*' }, { host: '*.rpc.test' }),
    route({ action: 'open', match: { host: 'other.test' } }),
  ]);
  const table: [string, string, string, boolean][] = [
    ['POST to the jsonrpc path', 'POST', 'http://mcp.test/mcp', true],
    ['GET to it (a jsonrpc route takes POST only)', 'GET', 'http://mcp.test/mcp', false],
    ['POST to another path of the host', 'POST', 'http://mcp.test/other', false],
    ['POST under a wildcard jsonrpc route', 'POST', 'http://a.rpc.test/mcp', true],
    ['POST to a host without jsonrpc routes', 'POST', 'http://other.test/mcp', false],
    ['another port', 'POST', 'http://mcp.test:8080/mcp', false],
  ];
  for (const [name, method, target, want] of table) {
    it(`${name}: ${want}`, () => assert.equal(p.routesByBody(normalizeRequest({ method, target })), want));
  }

  it('a policy without jsonrpc routes never reads a body to route', () => {
    const q = compile([route({ action: 'all', match: { host: 'mcp.test', methods: ['POST'] } })]);
    assert.equal(q.routesByBody(POST_MCP), false);
  });
});

describe('compilePolicy: jsonrpc conflicts', () => {
  function problems(a: Route, b: Route): string[] {
    try {
      compile([a, b]);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    }
    return [];
  }
  const r = (action: string, jsonrpc: Route['match']['jsonrpc'], file: string, line: number) =>
    route({ surface: 'mcp', action, where: at(file, line), match: { host: 'mcp.test', path: '/mcp', methods: ['POST'], jsonrpc } });

  it('the same tool twice: a problem at each, naming the other file:line and the call', () => {
    const got = problems(r('a', { method: 'tools/call', tool: 'create_issue' }, 'a.yaml', 3), r('b', { method: 'tools/call', tool: 'create_issue' }, 'b.yaml', 9));
    assert.equal(got.length, 2, got.join('\n'));
    assert.match(got[0]!, /^a\.yaml:3: route mcp\/a conflicts with route mcp\/b at b\.yaml:9: equally specific, both match POST http:\/\/mcp\.test:80\/mcp \(JSON-RPC tools\/call tool create_issue\)$/);
    assert.match(got[1]!, /^b\.yaml:9: route mcp\/b conflicts with route mcp\/a at a\.yaml:3/);
  });
  it('method "*" twice conflicts', () => {
    assert.equal(problems(r('a', { method: '*' }, 'a.yaml', 1), r('b', { method: '*' }, 'b.yaml', 1)).length, 2);
  });
  it('the same method twice conflicts', () => {
    assert.match(problems(r('a', { method: 'tools/list' }, 'a.yaml', 1), r('b', { method: 'tools/list' }, 'b.yaml', 1))[0]!, /JSON-RPC tools\/list\)/);
  });
  const disjoint: [string, Route['match']['jsonrpc'], Route['match']['jsonrpc']][] = [
    ['different tools', { method: 'tools/call', tool: 'a' }, { method: 'tools/call', tool: 'b' }],
    ['different methods', { method: 'tools/list' }, { method: 'initialize' }],
    ['a tool and its method (different specificity)', { method: 'tools/call', tool: 'a' }, { method: 'tools/call' }],
    ['a clause and none', { method: '*' }, undefined],
  ];
  for (const [name, x, y] of disjoint) {
    it(`no conflict: ${name}`, () => assert.deepEqual(problems(r('a', x, 'a.yaml', 1), r('b', y, 'b.yaml', 2)), []));
  }
});
