/** Stage parse (proxy/pipeline/parse-request.ts): what makes a request REQUEST_INVALID before any route is looked at. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HEADER_LINES, parseRequest, type Arrival, type RequestHead } from '../../../../proxy/pipeline/parse-request.js';

const PROXY: Arrival = { scheme: 'http' };
const TUNNEL: Arrival = { scheme: 'https', tunnel: { host: 'api.test', port: 443 } };
const h = (method: string, url: string, raw: string[], httpVersion = '1.1'): RequestHead => ({ method, url, rawHeaders: raw, httpVersion });
const parse = (head: RequestHead, arrival = PROXY) => parseRequest(head, arrival, 'egress-permit');
const refused = (head: RequestHead, arrival = PROXY): string => {
  const p = parse(head, arrival);
  assert.equal(p.ok, false);
  return p.ok ? '' : p.detail;
};

describe('parseRequest', () => {
  it('normalizes an absolute-form request and takes the permit, idempotency key and Content-Length', () => {
    const p = parse(h('POST', 'http://API.test:80/a/./b/%7Ex?q=1', ['Host', 'api.test', 'Egress-Permit', 'jws', 'Idempotency-Key', 'k1', 'Content-Length', '3']));
    assert.ok(p.ok);
    assert.equal(p.request.url, 'http://api.test/a/b/~x');
    assert.equal(p.request.query, 'q=1');
    assert.equal(p.token, 'jws');
    assert.equal(p.idempotencyKey, 'k1');
    assert.equal(p.contentLength, 3);
  });

  it('refuses the ambiguous or repeated headers of SPEC §4', () => {
    assert.equal(refused(h('GET', 'http://a.test/', ['Host', 'a.test', 'host', 'b.test'])), 'repeated Host header');
    assert.equal(refused(h('GET', 'http://a.test/', [])), 'missing Host header');
    assert.equal(refused(h('GET', 'http://a.test/', ['Host', 'a.test', 'Egress-Permit', 'x', 'egress-permit', 'y'])), 'repeated egress-permit header');
    assert.equal(refused(h('POST', 'http://a.test/', ['Host', 'a.test', 'Content-Length', '1', 'Transfer-Encoding', 'chunked'])), 'Content-Length together with Transfer-Encoding');
    assert.equal(refused(h('POST', 'http://a.test/', ['Host', 'a.test', 'Content-Length', '1', 'Content-Length', '2'])), 'differing Content-Length headers');
    assert.equal(refused(h('POST', 'http://a.test/', ['Host', 'a.test', 'Content-Length', '1x'])), 'malformed Content-Length');
    assert.equal(refused(h('GET', 'http://a.test/', ['Host', 'a.test', 'Idempotency-Key', 'a', 'Idempotency-Key', 'b'])), 'repeated Idempotency-Key header');
  });

  it('HTTP/1.0 may omit Host', () => {
    assert.ok(parse(h('GET', 'http://a.test/', [], '1.0')).ok);
  });

  it(`refuses more than ${MAX_HEADER_LINES} header lines`, () => {
    const raw = ['Host', 'a.test'];
    for (let i = 0; i < MAX_HEADER_LINES; i++) raw.push(`x-${i}`, 'v');
    assert.match(refused(h('GET', 'http://a.test/', raw)), /more than 200 header lines/);
  });

  it('origin-form only inside a tunnel, and then only for the CONNECT host and scheme', () => {
    assert.match(refused(h('GET', '/x', ['Host', 'a.test'])), /origin-form request to the proxy port/);
    const inside = parse(h('GET', '/x', ['Host', 'api.test']), TUNNEL);
    assert.ok(inside.ok);
    assert.equal(inside.request.url, 'https://api.test/x');
    assert.match(refused(h('GET', 'https://other.test/x', ['Host', 'other.test']), TUNNEL), /another/);
    assert.match(refused(h('GET', 'http://api.test:443/x', ['Host', 'api.test:443']), TUNNEL), /another scheme/);
  });

  it('a bad path is refused with the normalizer’s message (never throws)', () => {
    assert.match(refused(h('GET', 'http://a.test/a%2Fb', ['Host', 'a.test'])), /%2F|encoded/i);
    assert.match(refused(h('GET', 'http://a.test/../x', ['Host', 'a.test'])), /above the root|climb/i);
  });
});
