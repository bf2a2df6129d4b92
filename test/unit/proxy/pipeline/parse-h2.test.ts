/**
 * parse-h2: an HTTP/2 request's fields read as the h1 head parseRequest checks, and the h2
 * rules refused as REQUEST_INVALID (RFC 9113 §8.2.2, §8.3), through parseRequest itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { h1ViewOfH2, h2UpstreamFields } from '../../../../proxy/pipeline/parse-h2.js';
import { parseRequest, type Arrival } from '../../../../proxy/pipeline/parse-request.js';

const arrival: Arrival = { scheme: 'https', tunnel: { host: 'api.it', port: 443 }, h2: true };
const head = (fields: [string, string][]) => ({ method: 'GET', url: '/x', httpVersion: '2.0', rawHeaders: fields.flat() });
const base: [string, string][] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'api.it'], [':path', '/a/%7Eb/../c?q=1']];

describe('parseRequest on an HTTP/2 stream', () => {
  it('maps the pseudo-headers: :authority is the Host, :path the normalized target', () => {
    const p = parseRequest(head([...base, ['egress-permit', 'tok']]), arrival, 'egress-permit');
    assert.ok(p.ok);
    assert.equal(p.request.url, 'https://api.it/a/c');
    assert.equal(p.request.query, 'q=1');
    assert.equal(p.token, 'tok');
  });

  const refused: [string, [string, string][], RegExp][] = [
    ['an :authority naming another host', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'evil.it'], [':path', '/']], /another host/],
    [':authority and Host that differ', [...base, ['host', 'evil.it']], /:authority and Host/],
    ['connection', [...base, ['connection', 'keep-alive']], /connection-specific header connection/],
    ['keep-alive', [...base, ['keep-alive', '5']], /connection-specific header keep-alive/],
    ['proxy-connection', [...base, ['proxy-connection', 'x']], /connection-specific/],
    ['transfer-encoding', [...base, ['transfer-encoding', 'chunked']], /connection-specific/],
    ['upgrade', [...base, ['upgrade', 'websocket']], /connection-specific/],
    ['te other than trailers', [...base, ['te', 'gzip']], /connection-specific header te/],
    ['CONNECT', [[':method', 'CONNECT'], [':authority', 'api.it:443']], /CONNECT inside a tunnel/],
    ['extended CONNECT', [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':authority', 'api.it'], [':path', '/']], /pseudo-header :protocol/],
    ['a missing :path', [[':method', 'GET'], [':scheme', 'https'], [':authority', 'api.it']], /needs :method and :path/],
    ['a repeated :path', [...base, [':path', '/b']], /repeated :path/],
    ['another :scheme', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'api.it'], [':path', '/']], /:scheme/],
    ['no :authority and no Host', [[':method', 'GET'], [':scheme', 'https'], [':path', '/']], /needs :authority/],
  ];
  for (const [name, fields, detail] of refused) {
    it(`refuses ${name} (REQUEST_INVALID)`, () => {
      const p = parseRequest(head(fields), arrival, 'egress-permit');
      assert.equal(p.ok, false);
      if (!p.ok) assert.match(p.detail, detail);
    });
  }

  it('accepts te: trailers and joins cookie fields (RFC 9113 §8.2.3)', () => {
    const v = h1ViewOfH2(head([...base, ['te', 'trailers'], ['cookie', 'a=1'], ['cookie', 'b=2']]), arrival);
    assert.equal(typeof v, 'object');
    if (typeof v === 'object') assert.deepEqual(v.rawHeaders, ['te', 'trailers', 'host', 'api.it', 'cookie', 'a=1; b=2']);
    assert.deepEqual(h2UpstreamFields([':path', '/', 'x-a', '1', 'cookie', 'a=1', 'cookie', 'b=2']), ['x-a', '1', 'cookie', 'a=1; b=2']);
  });
});
