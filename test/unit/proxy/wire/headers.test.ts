import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { answerHeaders, gateOwnHeaders, headerLines, hostHeader, upstreamHeaders } from '../../../../proxy/wire/headers.js';
import type { NormalizedRequest } from '../../../../policy/types.js';

const req = (o: Partial<NormalizedRequest>): NormalizedRequest => ({ method: 'GET', scheme: 'http', host: 'a.test', port: 80, path: '/', query: null, url: 'http://a.test/', hostIsIp: false, ...o });

describe('headers crossing the gate', () => {
  it('drops hop-by-hop headers, the ones Connection names, Proxy-Authorization and the permit header', () => {
    const raw = ['Host', 'x', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Keep-Alive', '5', 'TE', 'trailers',
      'Proxy-Authorization', 'Bearer p', 'Egress-Permit', 'jws', 'Transfer-Encoding', 'chunked', 'Expect', '100-continue', 'Accept', '*/*'];
    assert.deepEqual(upstreamHeaders(raw, gateOwnHeaders('Egress-Permit')), ['Accept', '*/*']);
  });

  it('replaces a header the gate sets (brokered credentials), whatever its case', () => {
    const raw = ['authorization', 'Bearer agent', 'Accept', 'a'];
    assert.deepEqual(upstreamHeaders(raw, new Set(), { Authorization: 'Bearer secret' }), ['Accept', 'a', 'Authorization', 'Bearer secret']);
  });

  it('Proxy-Authorization is dropped even when the drop set is empty (it is hop-by-hop)', () => {
    assert.deepEqual(upstreamHeaders(['Proxy-Authorization', 'Bearer p'], new Set()), []);
  });

  it('answers lose hop-by-hop headers and any egress-* an origin sent', () => {
    assert.deepEqual(answerHeaders({ connection: 'x-a', 'x-a': '1', 'egress-decision': 'PERMIT', 'Egress-Receipt': 'forged', 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }), { 'content-type': 'text/plain' });
  });

  it('hostHeader omits the default port and brackets IPv6', () => {
    assert.equal(hostHeader(req({})), 'a.test');
    assert.equal(hostHeader(req({ port: 8080 })), 'a.test:8080');
    assert.equal(hostHeader(req({ scheme: 'https', port: 443 })), 'a.test');
    assert.equal(hostHeader(req({ scheme: 'https', port: 80 })), 'a.test:80');
    assert.equal(hostHeader(req({ host: '::1', port: 80 })), '[::1]');
  });

  it('headerLines pairs a flat list', () => {
    assert.deepEqual(headerLines(['a', '1', 'b', '2']), ['a: 1', 'b: 2']);
  });
});
