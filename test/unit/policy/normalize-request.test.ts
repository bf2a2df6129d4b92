import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bindingUrl, normalizePath, normalizeRequest, RequestInvalidError, type RequestTarget } from '../../../policy/normalize-request.js';
import { parseIpLiteral } from '../../../policy/parse-ip-literal.js';

function ok(input: Partial<RequestTarget> & { target: string }) {
  return normalizeRequest({ method: 'GET', ...input });
}

function refused(input: Partial<RequestTarget> & { target: string }, message: RegExp): void {
  assert.throws(() => ok(input), (e: unknown) => {
    assert.ok(e instanceof RequestInvalidError, `not a RequestInvalidError: ${String(e)}`);
    assert.equal(e.code, 'REQUEST_INVALID');
    assert.match(e.message, message);
    return true;
  });
}

describe('normalizePath', () => {
  const cases: [string, string][] = [
    ['', '/'],
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/%7Euser/%41%62c', '/~user/Abc'],
    ['/%2d%2e%5f%7e', '/-._~'],
    ['/a%2fb'.replace('%2f', '%3a'), '/a%3Ab'],
    ['/a%20b%c3%a9', '/a%20b%C3%A9'],
    ['/a/./b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/%2e%2E/b', '/b'],
    ['/a/.%2e/b', '/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/../b/', '/b/'],
    ['/a/..', '/'],
    ['/a//b', '/a//b'],
    ['/a/...', '/a/...'],
    ['/%2541', '/%2541'],
    // Parameters on an ordinary segment, or a dot inside a longer name, are not dot segments.
    ['/a;v=1/b', '/a;v=1/b'],
    ['/a/...;x', '/a/...;x'],
    ['/a/.x;y', '/a/.x;y'],
    ['/a/;/b', '/a/;/b'],
  ];
  for (const [raw, want] of cases) {
    it(`${JSON.stringify(raw)} -> ${want}`, () => assert.equal(normalizePath(raw), want));
  }
  const bad: [string, RegExp][] = [
    ['/a%2Fb', /encoded "\/"/],
    ['/a%2fb', /encoded "\/"/],
    ['/a%5Cb', /%5C/],
    ['/a%5cb', /%5C/],
    ['/a%00b', /NUL/],
    ['/a\\b', /"\\"/],
    ['/a/../../b', /climbs above the root/],
    ['/..', /climbs above the root/],
    ['/%2e%2e/', /climbs above the root/],
    ['/./%2E%2e/x', /climbs above the root/],
    ['/a%zz', /malformed percent-encoding/],
    ['/a%4', /malformed percent-encoding/],
    ['/a b', /must be percent-encoded/],
    ['/caf\u00e9', /must be percent-encoded/],
    ['a/b', /must start with/],
    // SPEC §4: a dot segment followed by path parameters (servers that strip them read `..`).
    ['/v1/charges/..;/admin', /dot segment with path parameters/],
    ['/v1/charges/..;jsessionid=1', /dot segment with path parameters/],
    ['/v1/charges/.;/..;/admin', /dot segment with path parameters/],
    ['/v1/charges/%2e%2e;/admin', /dot segment with path parameters/],
    ['/v1/charges/%2E%2E;x', /dot segment with path parameters/],
    ['/v1/charges/.%2e;/admin', /dot segment with path parameters/],
    ['/v1/charges/..%3B/admin', /dot segment with path parameters/],
    ['/v1/charges/..%3b', /dot segment with path parameters/],
    ['/v1/.;', /dot segment with path parameters/],
  ];
  for (const [raw, message] of bad) {
    it(`${JSON.stringify(raw)} is REQUEST_INVALID`, () => {
      assert.throws(() => normalizePath(raw), (e: unknown) => e instanceof RequestInvalidError && message.test(e.message));
    });
  }
});

describe('normalizeRequest: absolute-form', () => {
  it('splits scheme, host, port, path and query; url omits the default port and the query', () => {
    assert.deepEqual(ok({ method: 'POST', target: 'http://API.Test.:8080/v1/%63harges?b=2&a=%2F' }), {
      method: 'POST', scheme: 'http', host: 'api.test', port: 8080, path: '/v1/charges', query: 'b=2&a=%2F',
      url: 'http://api.test:8080/v1/charges', hostIsIp: false,
    });
  });
  const table: [string, Partial<ReturnType<typeof ok>>][] = [
    ['http://a.test', { path: '/', port: 80, url: 'http://a.test/', query: null }],
    ['http://a.test:80/x', { port: 80, url: 'http://a.test/x' }],
    ['https://a.test:443/x', { scheme: 'https', port: 443, url: 'https://a.test/x' }],
    ['https://a.test:80/x', { port: 80, url: 'https://a.test:80/x' }],
    ['http://a.test:/x', { port: 80, url: 'http://a.test/x' }],
    ['HTTPS://A.TEST/X', { scheme: 'https', host: 'a.test', path: '/X', url: 'https://a.test/X' }],
    ['http://a.test/x?', { query: '' }],
    ['http://a.test/a/./b/../c', { path: '/a/c' }],
  ];
  for (const [target, want] of table) {
    it(target, () => {
      const got = ok({ target });
      for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof typeof got], v, k);
    });
  }
  const ips: [string, string, string][] = [
    ['http://2130706433/', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://0x7f.1/', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://0X7F000001/', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://0177.0.0.1/', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://127.1/', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://127.0.0.1./', '127.0.0.1', 'http://127.0.0.1/'],
    ['http://[::1]:8080/', '::1', 'http://[::1]:8080/'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'http://[::ffff:7f00:1]/'],
    ['http://[0:0:0:0:0:0:0:1]/', '::1', 'http://[::1]/'],
    ['http://[2001:DB8::0:1]/', '2001:db8::1', 'http://[2001:db8::1]/'],
  ];
  for (const [target, host, url] of ips) {
    it(`IP literal ${target}`, () => {
      const got = ok({ target });
      assert.equal(got.host, host);
      assert.equal(got.hostIsIp, true);
      assert.equal(got.url, url);
    });
  }
  const bad: [Partial<RequestTarget> & { target: string }, RegExp][] = [
    [{ target: 'http://user:pw@a.test/' }, /userinfo/],
    [{ target: 'http://@a.test/' }, /userinfo/],
    [{ target: 'ftp://a.test/' }, /only http and https/],
    [{ target: 'a.test:443' }, /not an absolute http\(s\) URI/],
    [{ target: '*' }, /not an absolute http\(s\) URI/],
    [{ target: 'http:/a.test/' }, /not an absolute/],
    [{ target: 'http://a.test/x#f' }, /fragment/],
    [{ target: 'http:///x' }, /does not name a host/],
    [{ target: 'http://a.test:0/' }, /invalid port/],
    [{ target: 'http://a.test:65536/' }, /invalid port/],
    [{ target: 'http://a.test:8x/' }, /does not name a host|invalid port/],
    [{ target: 'http://256.0.0.1/' }, /not a valid IPv4/],
    [{ target: 'http://foo.0x1/' }, /not a valid IPv4/],
    [{ target: 'http://[::g]/' }, /not a valid IPv6/],
    [{ target: 'http://[fe80::1%25eth0]/' }, /not a valid IPv6/],
    [{ target: 'http://a..test/' }, /not a valid host name/],
    [{ target: 'http://a%2etest/' }, /not a valid host name/],
    [{ target: 'http://a.test/%2F' }, /encoded/],
    [{ target: 'http://a.test/x?a b' }, /query/],
    [{ target: 'http://a.test/', method: 'GE T' }, /method/],
    [{ target: 'http://a.test/', method: '' }, /method/],
    [{ target: 'http://a.test/', hostHeader: 'b.test' }, /Host header names another host/],
    [{ target: 'http://a.test/', hostHeader: 'a.test:8080' }, /Host header names another host/],
    [{ target: 'https://a.test/', hostHeader: 'a.test:80' }, /Host header names another host/],
    [{ target: 'http://a.test/', hostHeader: ['a.test', 'a.test'] }, /repeated Host header/],
    [{ target: 'http://a.test/', hostHeader: 'u@a.test' }, /Host header holds userinfo/],
    [{ target: 'http://a.test/', hostHeader: '' }, /Host header does not name a host/],
  ];
  for (const [input, message] of bad) {
    it(`refuses ${JSON.stringify(input)}`, () => refused(input, message));
  }
  it('accepts a Host header naming the same host and port in another spelling', () => {
    assert.equal(ok({ target: 'http://a.test/', hostHeader: 'A.TEST.:80' }).host, 'a.test');
    assert.equal(ok({ target: 'https://a.test:443/', hostHeader: 'a.test' }).port, 443);
    assert.equal(ok({ target: 'http://127.0.0.1/', hostHeader: '2130706433' }).host, '127.0.0.1');
    assert.equal(ok({ target: 'http://a.test/', hostHeader: ['a.test'] }).host, 'a.test');
  });
  it('ignores the connection scheme outside a tunnel (the URI names it)', () => {
    assert.equal(ok({ target: 'https://a.test/', scheme: 'http' }).scheme, 'https');
  });
  it('inside a tunnel, an absolute URI must name the CONNECT scheme and authority', () => {
    assert.equal(ok({ target: 'https://a.test/x', scheme: 'https', authority: 'a.test:443', hostHeader: 'a.test' }).url, 'https://a.test/x');
    refused({ target: 'https://b.test/x', scheme: 'https', authority: 'a.test:443' }, /another scheme, host or port than the CONNECT/);
    refused({ target: 'http://a.test:443/x', scheme: 'https', authority: 'a.test:443' }, /another scheme/);
  });
  it('never echoes a header value in its message', () => {
    const secret = `evil-${'x'.repeat(200)}.test`;
    assert.throws(() => ok({ target: 'http://a.test/', hostHeader: secret }), (e: unknown) => e instanceof RequestInvalidError && !e.message.includes('evil'));
  });
});

describe('normalizeRequest: origin-form inside a tunnel', () => {
  const tunnel = { scheme: 'https' as const, authority: 'api.test:443' };
  it('takes scheme and authority from the CONNECT', () => {
    assert.deepEqual(ok({ ...tunnel, method: 'PUT', target: '/v1/%7Ex/../y?q=%zz', hostHeader: 'API.test' }), {
      method: 'PUT', scheme: 'https', host: 'api.test', port: 443, path: '/v1/y', query: 'q=%zz', url: 'https://api.test/v1/y', hostIsIp: false,
    });
  });
  it('keeps a non-default CONNECT port in url', () => {
    assert.equal(ok({ scheme: 'https', authority: '[::1]:8443', target: '/', hostHeader: '[::1]:8443' }).url, 'https://[::1]:8443/');
  });
  it('refuses origin-form outside a tunnel', () => refused({ target: '/x', hostHeader: 'a.test' }, /origin-form request outside a tunnel/));
  it('refuses a missing Host header', () => refused({ ...tunnel, target: '/x' }, /missing Host header/));
  it('refuses a Host header naming another host', () => refused({ ...tunnel, target: '/x', hostHeader: 'other.test' }, /another host or port than the CONNECT/));
  it('refuses a Host header naming another port', () => refused({ ...tunnel, target: '/x', hostHeader: 'api.test:8443' }, /another host or port than the CONNECT/));
  it('refuses a duplicate Host header', () => refused({ ...tunnel, target: '/x', hostHeader: ['api.test', 'api.test'] }, /repeated Host header/));
  it('refuses climbing above the root', () => refused({ ...tunnel, target: '/a/../../b', hostHeader: 'api.test' }, /climbs above the root/));
  it('refuses a fragment', () => refused({ ...tunnel, target: '/a#b', hostHeader: 'api.test' }, /fragment/));
});

describe('bindingUrl', () => {
  const table: [string, string][] = [
    ['HTTP://API.TEST:80/v1/%63harges?x=1#frag', 'http://api.test/v1/charges'],
    ['https://api.test:8443', 'https://api.test:8443/'],
    ['http://0x7f.1:8080/a/./b', 'http://127.0.0.1:8080/a/b'],
    ['http://[::FFFF:127.0.0.1]/', 'http://[::ffff:7f00:1]/'],
  ];
  for (const [input, want] of table) it(`${input} -> ${want}`, () => assert.equal(bindingUrl(input), want));
  it('equals the url the gate computes for the same request', () => {
    for (const t of ['http://A.test:8080/x/%2e/y?q', 'https://2130706433/%7e', 'http://[::1]/a/b/..']) {
      assert.equal(bindingUrl(t), ok({ target: t }).url);
    }
  });
  it('throws RequestInvalidError for a URL the gate would refuse', () => {
    assert.throws(() => bindingUrl('http://a.test/%2F'), RequestInvalidError);
    assert.throws(() => bindingUrl('ftp://a.test/'), RequestInvalidError);
  });
});

describe('parseIpLiteral', () => {
  const table: [string, string | undefined][] = [
    ['2130706433', '127.0.0.1'], ['0x7f.1', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['127.1', '127.0.0.1'],
    ['10.0.0.1', '10.0.0.1'], ['[::ffff:127.0.0.1]', '::ffff:7f00:1'], ['[::1]', '::1'], ['::1', '::1'],
    ['example.com', undefined], ['foo.1', undefined], ['256.0.0.1', undefined], ['[::g]', undefined], ['0x7f.example', undefined],
  ];
  for (const [input, want] of table) it(`${input} -> ${String(want)}`, () => assert.equal(parseIpLiteral(input), want));
});
