import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, policyDigest } from '../../../policy/compile-policy.js';
import { ConfigError } from '../../../policy/config-error.js';
import { normalizeRequest } from '../../../policy/normalize-request.js';
import type { Route } from '../../../policy/types.js';
import { at, exception, route } from './route-factory.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

function compile(routes: Route[], exceptions = [] as ReturnType<typeof exception>[]) {
  return compilePolicy({ routes, exceptions, sources: [] }, { nowMs: NOW });
}

function matchAction(routes: Route[], method: string, target: string): string | undefined {
  return compile(routes).match(normalizeRequest({ method, target }))?.action;
}

describe('compilePolicy: host matching', () => {
  const routes = [
    route({ action: 'exact', match: { host: 'api.example.com' } }),
    route({ action: 'wild', match: { host: '*.example.com' } }),
    route({ action: 'ip', match: { host: '127.0.0.1' } }),
    route({ action: 'ip6', match: { host: '::ffff:7f00:1' } }),
  ];
  const table: [string, string | undefined][] = [
    ['http://api.example.com/', 'exact'],
    ['http://API.Example.COM./', 'exact'],
    ['http://a.example.com/', 'wild'],
    ['http://example.com/', undefined],
    ['http://a.b.example.com/', undefined],
    ['http://2130706433/', 'ip'],
    ['http://0x7f.1/', 'ip'],
    ['http://127.1/', 'ip'],
    ['http://[::ffff:127.0.0.1]/', 'ip6'],
    ['http://127.0.0.2/', undefined],
  ];
  for (const [target, want] of table) it(`${target} -> ${String(want)}`, () => assert.equal(matchAction(routes, 'GET', target), want));

  it('an IP literal never matches a wildcard route', () => {
    assert.equal(matchAction([route({ action: 'w', match: { host: '*.0.1' } })], 'GET', 'http://10.0.0.1/'), undefined);
  });
});

describe('compilePolicy: specificity', () => {
  const table: { name: string; routes: Route[]; method: string; target: string; want: string | undefined }[] = [
    {
      name: 'exact host over wildcard, even with a less specific path',
      routes: [route({ action: 'wild', match: { host: '*.t.test', path: '/v1/charges', methods: ['POST'] } }), route({ action: 'exact', match: { host: 'a.t.test' } })],
      method: 'POST', target: 'http://a.t.test/v1/charges', want: 'exact',
    },
    {
      name: 'literal over {param}',
      routes: [route({ action: 'param', match: { host: 'a.test', path: '/v1/{id}' } }), route({ action: 'lit', match: { host: 'a.test', path: '/v1/charges' } })],
      method: 'GET', target: 'http://a.test/v1/charges', want: 'lit',
    },
    {
      name: '{param} over /**',
      routes: [route({ action: 'rest', match: { host: 'a.test', path: '/v1/**' } }), route({ action: 'param', match: { host: 'a.test', path: '/v1/{id}' } })],
      method: 'GET', target: 'http://a.test/v1/x', want: 'param',
    },
    {
      name: 'a longer literal path over a shorter /** prefix',
      routes: [route({ action: 'rest', match: { host: 'a.test', path: '/v1/**' } }), route({ action: 'long', match: { host: 'a.test', path: '/v1/charges/{id}/capture' } })],
      method: 'GET', target: 'http://a.test/v1/charges/ch_1/capture', want: 'long',
    },
    {
      name: 'left-most segment decides: /v1/{x} over /{a}/b',
      routes: [route({ action: 'pb', match: { host: 'a.test', path: '/{a}/b' } }), route({ action: 'v1', match: { host: 'a.test', path: '/v1/{x}' } })],
      method: 'GET', target: 'http://a.test/v1/b', want: 'v1',
    },
    {
      name: 'exact /v1 over /v1/**',
      routes: [route({ action: 'rest', match: { host: 'a.test', path: '/v1/**' } }), route({ action: 'exact', match: { host: 'a.test', path: '/v1' } })],
      method: 'GET', target: 'http://a.test/v1', want: 'exact',
    },
    {
      name: '/v1/** matches /v1/ too',
      routes: [route({ action: 'rest', match: { host: 'a.test', path: '/v1/**' } })],
      method: 'GET', target: 'http://a.test/v1/', want: 'rest',
    },
    {
      name: '/v1/** does not match /v1x',
      routes: [route({ action: 'rest', match: { host: 'a.test', path: '/v1/**' } })],
      method: 'GET', target: 'http://a.test/v1x', want: undefined,
    },
    {
      name: '{param} does not match an empty segment',
      routes: [route({ action: 'p', match: { host: 'a.test', path: '/v1/{id}' } })],
      method: 'GET', target: 'http://a.test/v1/', want: undefined,
    },
    {
      name: 'named method over *',
      routes: [route({ action: 'any', match: { host: 'a.test' } }), route({ action: 'post', match: { host: 'a.test', methods: ['POST', 'PUT'] } })],
      method: 'POST', target: 'http://a.test/x', want: 'post',
    },
    {
      name: 'a method the route does not name falls through to *',
      routes: [route({ action: 'any', match: { host: 'a.test' } }), route({ action: 'post', match: { host: 'a.test', methods: ['POST'] } })],
      method: 'DELETE', target: 'http://a.test/x', want: 'any',
    },
    {
      name: 'explicit port over the default',
      routes: [route({ action: 'default', match: { host: 'a.test' } }), route({ action: 'port', match: { host: 'a.test', ports: [80, 8080] } })],
      method: 'GET', target: 'http://a.test/', want: 'port',
    },
    {
      name: 'the default port over "*"',
      routes: [route({ action: 'star', match: { host: 'a.test', ports: '*' } }), route({ action: 'default', match: { host: 'a.test' } })],
      method: 'GET', target: 'http://a.test/', want: 'default',
    },
    {
      name: '"*" takes any port',
      routes: [route({ action: 'star', match: { host: 'a.test', ports: '*' } }), route({ action: 'default', match: { host: 'a.test' } })],
      method: 'GET', target: 'http://a.test:9999/', want: 'star',
    },
    {
      name: 'named scheme over none',
      routes: [route({ action: 'none', match: { host: 'a.test' } }), route({ action: 'https', match: { host: 'a.test', scheme: 'https' } })],
      method: 'GET', target: 'https://a.test/', want: 'https',
    },
    {
      name: 'a named scheme must equal the request\'s',
      routes: [route({ action: 'none', match: { host: 'a.test' } }), route({ action: 'https', match: { host: 'a.test', scheme: 'https' } })],
      method: 'GET', target: 'http://a.test/', want: 'none',
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      assert.equal(matchAction(c.routes, c.method, c.target), c.want);
      assert.equal(matchAction([...c.routes].reverse(), c.method, c.target), c.want, 'independent of route order');
    });
  }

  const ports: [Partial<Route['match']>, string, boolean][] = [
    [{}, 'http://a.test/', true],
    [{}, 'https://a.test/', true],
    [{}, 'http://a.test:443/', false],
    [{}, 'https://a.test:80/', false],
    [{ scheme: 'https' }, 'https://a.test/', true],
    [{ scheme: 'https' }, 'http://a.test:443/', false],
    [{ scheme: 'http' }, 'http://a.test/', true],
    [{ ports: [8443] }, 'https://a.test:8443/', true],
    [{ ports: [8443] }, 'https://a.test/', false],
  ];
  for (const [m, target, fits] of ports) {
    it(`port defaulting: ${JSON.stringify(m)} ${fits ? 'matches' : 'does not match'} ${target}`, () => {
      assert.equal(matchAction([route({ action: 'r', match: { host: 'a.test', ...m } })], 'GET', target), fits ? 'r' : undefined);
    });
  }
});

describe('compilePolicy: conflicts', () => {
  function conflict(a: Route, b: Route): ConfigError {
    try {
      compile([a, b]);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e;
    }
    assert.fail('expected a ConfigError');
  }

  it('two files, equally specific, overlapping: a problem at each naming the other file:line', () => {
    const a = route({ surface: 'pay', action: 'charge', match: { host: 'api.test', path: '/v1/{id}', methods: ['POST'] }, where: at('/maps/a.yaml', 12) });
    const b = route({ surface: 'pay', action: 'other', match: { host: 'api.test', path: '/v1/{x}', methods: ['GET', 'POST'] }, where: at('/maps/b.yaml', 7) });
    const e = conflict(a, b);
    assert.equal(e.code, 'ERR_CONFIG_INVALID');
    assert.equal(e.problems.length, 2);
    const [pa, pb] = [e.problems.find((p) => p.file === '/maps/a.yaml'), e.problems.find((p) => p.file === '/maps/b.yaml')];
    assert.deepEqual([pa?.line, pa?.col], [12, 5]);
    assert.deepEqual([pb?.line, pb?.col], [7, 5]);
    assert.match(pa!.message, /route pay\/charge conflicts with route pay\/other at \/maps\/b\.yaml:7: .*POST http:\/\/api\.test:80\/v1\/x/);
    assert.match(pb!.message, /route pay\/other conflicts with route pay\/charge at \/maps\/a\.yaml:12/);
    assert.match(e.message, /^\/maps\/(a|b)\.yaml:\d+:5: route/m);
  });

  const disjoint: [string, Partial<Route['match']>, Partial<Route['match']>][] = [
    ['different literals', { path: '/v1/a' }, { path: '/v1/b' }],
    ['different methods', { methods: ['GET'] }, { methods: ['POST'] }],
    ['different ports', { ports: [8080] }, { ports: [8081] }],
    ['different schemes', { scheme: 'http' }, { scheme: 'https' }],
    ['different specificity', { path: '/v1/{id}' }, { path: '/v1/**' }],
  ];
  for (const [name, ma, mb] of disjoint) {
    it(`no conflict: ${name}`, () => {
      assert.doesNotThrow(() => compile([route({ match: { host: 'a.test', ...ma } }), route({ match: { host: 'a.test', ...mb } })]));
    });
  }
  const overlapping: [string, Partial<Route['match']>, Partial<Route['match']>][] = [
    ['same path', {}, {}],
    ['port lists that share 8080', { ports: [8080, 9090] }, { ports: [8080] }],
    ['wildcards of one parent', { host: '*.a.test' }, { host: '*.a.test' }],
  ];
  for (const [name, ma, mb] of overlapping) {
    it(`conflict: ${name}`, () => {
      const e = conflict(route({ match: { host: 'a.test', ...ma } }), route({ match: { host: 'a.test', ...mb } }));
      assert.equal(e.problems.length, 2);
    });
  }
  it('tunnel routes conflict among themselves by host and port only', () => {
    const e = conflict(
      route({ tunnel: true, match: { host: 't.test', ports: [443] }, where: at('x.yaml', 1) }),
      route({ tunnel: true, match: { host: 't.test', ports: [443, 8443] }, where: at('y.yaml', 2) }),
    );
    assert.match(e.problems[0]!.message, /CONNECT t\.test:443/);
  });
  it('a tunnel route does not conflict with an HTTP route', () => {
    assert.doesNotThrow(() => compile([route({ tunnel: true, match: { host: 't.test' } }), route({ match: { host: 't.test' } })]));
  });
  it('a path literal that can never match is a problem at the route', () => {
    const r = route({ match: { host: 'a.test', path: '/a%2Fb' }, where: at('z.yaml', 4) });
    assert.throws(() => compile([r]), (e: unknown) => e instanceof ConfigError && e.problems[0]?.file === 'z.yaml' && /never matches/.test(e.problems[0].message));
  });
  it('path literals are compared normalized', () => {
    assert.equal(matchAction([route({ action: 'r', match: { host: 'a.test', path: '/%7Euser/%c3%a9' } })], 'GET', 'http://a.test/~user/%C3%A9'), 'r');
  });
});

describe('compilePolicy: tunnels and CONNECT', () => {
  const routes = [
    route({ action: 'tun', tunnel: true, match: { host: 'bank.test' } }),
    route({ action: 'tun8443', tunnel: true, match: { host: '*.bank.test', ports: [8443] } }),
    route({ action: 'http', match: { host: 'api.test', scheme: 'https' } }),
    route({ action: 'ip', match: { host: '10.0.0.1', ports: [8080] } }),
  ];
  const p = compile(routes);
  it('match() never returns a tunnel route', () => {
    assert.equal(p.match(normalizeRequest({ method: 'GET', target: 'https://bank.test/' })), undefined);
  });
  it('matchTunnel() takes the tunnel route by host and port (443 when unnamed)', () => {
    assert.equal(p.matchTunnel('bank.test', 443)?.action, 'tun');
    assert.equal(p.matchTunnel('BANK.test.', 443)?.action, 'tun');
    assert.equal(p.matchTunnel('bank.test', 80), undefined);
    assert.equal(p.matchTunnel('x.bank.test', 8443)?.action, 'tun8443');
    assert.equal(p.matchTunnel('api.test', 443), undefined);
    assert.equal(p.matchTunnel('not a host', 443), undefined);
  });
  it('canMatchAuthority() considers non-tunnel routes for http and https', () => {
    assert.equal(p.canMatchAuthority('api.test', 443), true);
    assert.equal(p.canMatchAuthority('api.test', 80), false);
    assert.equal(p.canMatchAuthority('bank.test', 443), false);
    assert.equal(p.canMatchAuthority('0x0a.1', 8080), true);
    assert.equal(p.canMatchAuthority('10.0.0.1', 443), false);
    assert.equal(p.canMatchAuthority('nowhere.test', 443), false);
  });
});

describe('compilePolicy: exceptions, warnings, digest, freezing', () => {
  const routes = [route({ surface: 'pay', action: 'refund', match: { host: 'a.test' } })];
  const live = exception({ id: 'EXC-1', surface: 'pay', action: 'refund', expires: NOW + 60_000 });
  const dead = exception({ id: 'EXC-0', surface: 'pay', action: 'refund', expires: NOW - 1, where: at('ex.yaml', 9) });
  const p = compile(routes, [dead, live]);
  it('exceptionFor returns the first unexpired exception', () => {
    assert.equal(p.exceptionFor('pay', 'refund', NOW)?.id, 'EXC-1');
    assert.equal(p.exceptionFor('pay', 'refund', NOW + 60_000), undefined);
    assert.equal(p.exceptionFor('pay', 'charge', NOW), undefined);
  });
  it('warns about an expired exception at its position', () => {
    assert.deepEqual(p.warnings, ['ex.yaml:9:5: exception EXC-0 expired at 2025-12-31T23:59:59.999Z; it is inert']);
  });
  it('warns about an exception naming no route', () => {
    const q = compile(routes, [exception({ id: 'EXC-9', surface: 'pay', action: 'nope', expires: NOW + 1, where: at('e.yaml', 3) })]);
    assert.deepEqual(q.warnings, ['e.yaml:3:5: exception EXC-9 names pay/nope, which no route has']);
  });
  it('digest is stable across source order and changes with any byte', () => {
    const a = { path: '/m/a.yaml', text: 'routes: []\n' };
    const b = { path: '/m/b.yaml', text: 'exceptions: []\n' };
    const d = policyDigest([a, b]);
    assert.match(d, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(policyDigest([b, a]), d);
    assert.notEqual(policyDigest([a, { ...b, text: 'exceptions: [] \n' }]), d);
    assert.notEqual(policyDigest([{ path: '/m/a.yaml', text: 'routes: []\n/m/b.yaml' }, { path: '', text: b.text }]), d);
    const compiled = compilePolicy({ routes: [], exceptions: [], sources: [b, a] }, { nowMs: NOW });
    assert.equal(compiled.digest, d);
    assert.equal(compiled.version, d.slice(0, 12));
  });
  it('the result is frozen, routes included', () => {
    assert.ok(Object.isFrozen(p) && Object.isFrozen(p.routes) && Object.isFrozen(p.routes[0]) && Object.isFrozen(p.routes[0]!.match));
    assert.throws(() => { (p.routes[0]!.match as { host: string }).host = 'evil.test'; }, TypeError);
  });
});
