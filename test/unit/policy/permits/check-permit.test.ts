import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createPermitChecker, expiredDetail, type PermitCheck, type PermitChecker } from '../../../../policy/permits/check-permit.js';
import { sha256Base64url } from '../../../../policy/permits/bind-request.js';
import { createIssuerKeys, type IssuerKeyResolver } from '../../../../policy/permits/issuer-keys.js';
import { issuePermit } from '../../../../policy/permits/issue-permit.js';
import type { Route } from '../../../../policy/types.js';
import { route } from '../route-factory.js';
import { claims, GATE_ID, ISS, normalized, signRaw, SUBJECT, testKey, tmpDir, writeJwks, b64u, type TestKey } from './permit-kit.js';

const NOW_S = 1_800_000_000;
const SKEW = 5;
const MAX_TTL = 600;
const OTHER_ISS = 'https://other.test';

const ed = testKey('EdDSA', 'ed-1');
const es = testKey('ES256', 'es-1');
const otherKey = testKey('ES256', 'other-1');
const attacker = testKey('EdDSA', 'attacker-1');

const charge: Route = route({ surface: 'payments', action: 'charge.create', match: { host: 'api.test', methods: ['POST'], path: '/v1/charges' } });
const chargeReq = normalized('POST', 'http://api.test/v1/charges');

let keys: IssuerKeyResolver;
let checker: PermitChecker;

before(async () => {
  const dir = tmpDir('eg-permits-');
  keys = createIssuerKeys([
    { iss: ISS, jwks: writeJwks(dir, 'arbiter.jwks.json', [ed, es]), algorithms: ['EdDSA', 'ES256'] },
    { iss: OTHER_ISS, jwks: writeJwks(dir, 'other.jwks.json', [otherKey]), algorithms: ['ES256'] },
  ]);
  await keys.init();
  checker = createPermitChecker({
    config: { header: 'Egress-Permit', issuers: [], clockSkewS: SKEW, maxTtlS: MAX_TTL, replay: 'memory', gateId: GATE_ID, subject: SUBJECT },
    keys,
    clock: () => NOW_S * 1000,
  });
});

const header = (k: TestKey, over: Record<string, unknown> = {}) => {
  const h: Record<string, unknown> = { alg: k.alg, typ: 'permit+jwt', kid: k.kid, ...over };
  for (const x of Object.keys(h)) if (h[x] === undefined) delete h[x];
  return h;
};
const permit = (over: Record<string, unknown> = {}, hdr: Record<string, unknown> = {}, k: TestKey = ed) => signRaw(header(k, hdr), claims(NOW_S, over), k);

async function check(token: string | undefined, r: Route = charge, request = chargeReq, bodySha256?: string): Promise<PermitCheck> {
  return checker.check({ token, route: r, request, ...(bodySha256 !== undefined ? { bodySha256 } : {}) });
}

async function failing(token: string | undefined, reason: string, r?: Route, request?: typeof chargeReq, bodySha256?: string): Promise<PermitCheck> {
  const out = await check(token, r, request, bodySha256);
  assert.equal(out.ok, false, `expected ${reason}, got ok`);
  if (!out.ok) {
    assert.equal(out.reason, reason, out.detail);
    if (token) assert.ok(!out.detail.includes(token), 'detail must not echo the token');
  }
  return out;
}

async function expectReason(token: string | undefined, reason: string, r?: Route, request?: typeof chargeReq, bodySha256?: string): Promise<void> {
  await failing(token, reason, r, request, bodySha256);
}

describe('permit check: positive controls', () => {
  it('accepts a valid EdDSA permit and names its facts', async () => {
    const c = claims(NOW_S, { txn: 'run-7', idk: 'idem-1' });
    const token = signRaw(header(ed), c, ed);
    const out = await check(token);
    assert.ok(out.ok, out.ok ? '' : `${out.reason}: ${out.detail}`);
    assert.deepEqual(out.facts, { sha256: sha256Base64url(token), iss: ISS, kid: 'ed-1', jti: c.jti, exp: NOW_S + 60, txn: 'run-7', idk: 'idem-1' });
    assert.equal(out.claims.jti, c.jti);
  });

  it('accepts ES256', async () => {
    assert.ok((await check(permit({}, {}, es))).ok);
  });

  it('accepts aud as an array that contains the gate id', async () => {
    assert.ok((await check(permit({ aud: ['other-gate', GATE_ID] }))).ok);
  });

  it('accepts typ application/permit+jwt (RFC 7515 media type form)', async () => {
    assert.ok((await check(permit({}, { typ: 'application/permit+jwt' }))).ok);
  });

  it('accepts at the exact boundaries of skew and TTL', async () => {
    assert.ok((await check(permit({ iat: NOW_S - 100, exp: NOW_S - SKEW + 1 }))).ok, 'exp + skew one second ahead');
    assert.ok((await check(permit({ iat: NOW_S + SKEW, exp: NOW_S + SKEW + 10 }))).ok, 'iat = now + skew');
    assert.ok((await check(permit({ nbf: NOW_S + SKEW }))).ok, 'nbf = now + skew');
    assert.ok((await check(permit({ iat: NOW_S, exp: NOW_S + MAX_TTL }))).ok, 'exp - iat = max_ttl');
  });

  it('accepts a permit minted by issuePermit (the SDK) with body and query bound', async () => {
    const r = route({ surface: 'payments', action: 'charge.create', bindBody: true, bindQuery: true, match: { host: 'api.test', path: '/v1/charges' } });
    const body = '{"amount":100}';
    const token = await issuePermit({
      key: es.privateKey, kid: es.kid, iss: ISS, aud: GATE_ID, sub: SUBJECT, surface: 'payments', action: 'charge.create',
      request: { method: 'post', url: 'HTTP://API.test:80/v1/./charges?x=1&y=2', body }, clock: () => NOW_S * 1000,
    });
    const out = await check(token, r, normalized('POST', 'http://api.test/v1/charges?x=1&y=2'), sha256Base64url(body));
    assert.ok(out.ok, out.ok ? '' : `${out.reason}: ${out.detail}`);
  });
});

describe('permit check: hostile permits', () => {
  it('no token → PERMIT_MISSING', () => expectReason(undefined, 'PERMIT_MISSING'));

  it('alg none → PERMIT_ALG_REJECTED', () => expectReason(permit({}, { alg: 'none' }), 'PERMIT_ALG_REJECTED'));

  it('HS256 signed with the issuer public key bytes → PERMIT_ALG_REJECTED', async () => {
    const c = claims(NOW_S);
    for (const secret of [Buffer.from(ed.publicJwk.x as string, 'base64url'), Buffer.from(JSON.stringify(ed.publicJwk)), Buffer.from(JSON.stringify({ keys: [ed.publicJwk] }))]) {
      await expectReason(signRaw(header(ed, { alg: 'HS256' }), c, { secret }), 'PERMIT_ALG_REJECTED');
    }
  });

  it('a signature by a key only present in an embedded jwk header → PERMIT_SIGNATURE_INVALID', async () => {
    await expectReason(permit({}, { kid: 'ed-1', jwk: attacker.publicJwk }, attacker), 'PERMIT_SIGNATURE_INVALID');
    await expectReason(permit({}, { kid: attacker.kid, jwk: attacker.publicJwk }, attacker), 'PERMIT_SIGNATURE_INVALID');
  });

  describe('jku / x5u headers', () => {
    let server: Server;
    let hits = 0;
    before(async () => {
      server = createServer((_req, res) => {
        hits++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [attacker.publicJwk] }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    it('a jku pointing at a server serving the signing key → PERMIT_SIGNATURE_INVALID, and the server is never asked', async () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      await expectReason(permit({}, { kid: attacker.kid, jku: url }, attacker), 'PERMIT_SIGNATURE_INVALID');
      await expectReason(permit({}, { kid: 'ed-1', jku: url }, attacker), 'PERMIT_SIGNATURE_INVALID');
      await expectReason(permit({}, { kid: attacker.kid, x5u: url }, attacker), 'PERMIT_SIGNATURE_INVALID');
      assert.equal(hits, 0, 'the jku/x5u server received a request');
    });
  });

  it('an x5c header is not used to find a key → PERMIT_SIGNATURE_INVALID', () =>
    expectReason(permit({}, { kid: attacker.kid, x5c: ['MIIB'] }, attacker), 'PERMIT_SIGNATURE_INVALID'));

  it('unknown kid → PERMIT_SIGNATURE_INVALID', () => expectReason(permit({}, { kid: 'nope' }), 'PERMIT_SIGNATURE_INVALID'));
  it('missing kid → PERMIT_MALFORMED', () => expectReason(permit({}, { kid: undefined }), 'PERMIT_MALFORMED'));
  it('wrong typ → PERMIT_TYPE_INVALID', () => expectReason(permit({}, { typ: 'JWT' }), 'PERMIT_TYPE_INVALID'));
  it('missing typ → PERMIT_TYPE_INVALID', () => expectReason(permit({}, { typ: undefined }), 'PERMIT_TYPE_INVALID'));
  it('unknown crit → PERMIT_MALFORMED', () => expectReason(permit({}, { crit: ['x-unknown'], 'x-unknown': 1 }), 'PERMIT_MALFORMED'));
  it('crit naming a registered claim → PERMIT_MALFORMED', () => expectReason(permit({}, { crit: ['b64'], b64: false }), 'PERMIT_MALFORMED'));
  it('tampered payload → PERMIT_SIGNATURE_INVALID', async () => {
    const [h, , s] = permit().split('.');
    await expectReason(`${h}.${b64u(claims(NOW_S, { surface: 'payments' }))}.${s}`, 'PERMIT_SIGNATURE_INVALID');
  });
  it('a header alg the kid was not issued for (ES256 under an Ed25519 kid) → PERMIT_SIGNATURE_INVALID', () =>
    expectReason(permit({}, { kid: 'ed-1' }, es), 'PERMIT_SIGNATURE_INVALID'));

  it('expired → PERMIT_EXPIRED, at exactly exp + skew too', async () => {
    await expectReason(permit({ iat: NOW_S - 600, exp: NOW_S - 300 }), 'PERMIT_EXPIRED');
    await expectReason(permit({ iat: NOW_S - 100, exp: NOW_S - SKEW }), 'PERMIT_EXPIRED');
  });
  it('nbf in the future → PERMIT_NOT_YET_VALID', () => expectReason(permit({ nbf: NOW_S + SKEW + 1 }), 'PERMIT_NOT_YET_VALID'));
  it('iat in the future → PERMIT_NOT_YET_VALID', () => expectReason(permit({ iat: NOW_S + SKEW + 1, exp: NOW_S + 60 }), 'PERMIT_NOT_YET_VALID'));
  it('TTL one second over max_ttl → PERMIT_TTL_TOO_LONG', () => expectReason(permit({ iat: NOW_S, exp: NOW_S + MAX_TTL + 1 }), 'PERMIT_TTL_TOO_LONG'));

  it('unknown iss → PERMIT_ISSUER_UNTRUSTED', () => expectReason(permit({ iss: 'https://evil.test' }), 'PERMIT_ISSUER_UNTRUSTED'));
  it('another configured issuer naming a kid it does not have → PERMIT_SIGNATURE_INVALID', () =>
    expectReason(permit({ iss: OTHER_ISS }, {}, es), 'PERMIT_SIGNATURE_INVALID'));
  it('an alg the issuer does not allow → PERMIT_ALG_REJECTED', () => expectReason(permit({ iss: OTHER_ISS }, { kid: 'other-1' }), 'PERMIT_ALG_REJECTED'));
  it('wrong aud → PERMIT_AUDIENCE_MISMATCH', async () => {
    await expectReason(permit({ aud: 'gate-2' }), 'PERMIT_AUDIENCE_MISMATCH');
    await expectReason(permit({ aud: ['gate-2', 'gate-3'] }), 'PERMIT_AUDIENCE_MISMATCH');
  });
  it('wrong sub → PERMIT_SUBJECT_MISMATCH', () => expectReason(permit({ sub: 'agent:other' }), 'PERMIT_SUBJECT_MISMATCH'));
  it('wrong surface → PERMIT_SCOPE_MISMATCH', () => expectReason(permit({ surface: 'refunds' }), 'PERMIT_SCOPE_MISMATCH'));
  it('wrong action → PERMIT_SCOPE_MISMATCH', () => expectReason(permit({ action: 'charge.delete' }), 'PERMIT_SCOPE_MISMATCH'));

  it('missing required claims → PERMIT_MALFORMED', async () => {
    for (const k of ['exp', 'iat', 'jti', 'sub', 'aud', 'iss', 'surface', 'req']) {
      const out = await failing(permit({ [k]: undefined }), 'PERMIT_MALFORMED');
      assert.ok(!out.ok && out.facts?.sha256, `facts for a decodable permit without ${k}`);
    }
    await expectReason(permit({ req: { htu: 'http://api.test/v1/charges' } }), 'PERMIT_MALFORMED');
    await expectReason(permit({ req: { htm: 'POST' } }), 'PERMIT_MALFORMED');
    await expectReason(permit({ jti: 'j'.repeat(129) }), 'PERMIT_MALFORMED');
    assert.ok((await check(permit({ jti: 'j'.repeat(128) }))).ok, 'a 128-character jti is allowed');
  });

  describe('binding mismatches → PERMIT_BINDING_MISMATCH', () => {
    const bodyRoute = route({ surface: 'payments', action: 'charge.create', bindBody: true, match: { host: 'api.test', path: '/v1/charges' } });
    const queryRoute = route({ surface: 'payments', action: 'charge.create', bindQuery: true, match: { host: 'api.test', path: '/v1/charges' } });
    const body = sha256Base64url('{"amount":100}');
    it('method', () => expectReason(permit({ req: { htm: 'GET', htu: 'http://api.test/v1/charges' } }), 'PERMIT_BINDING_MISMATCH'));
    it('other path', () => expectReason(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/refunds' } }), 'PERMIT_BINDING_MISMATCH'));
    it('other host', () => expectReason(permit({ req: { htm: 'POST', htu: 'http://api2.test/v1/charges' } }), 'PERMIT_BINDING_MISMATCH'));
    it('other port', () => expectReason(permit({ req: { htm: 'POST', htu: 'http://api.test:8080/v1/charges' } }), 'PERMIT_BINDING_MISMATCH'));
    it('body: different or missing bdh', async () => {
      assert.ok((await check(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', bdh: body } }), bodyRoute, chargeReq, body)).ok);
      await expectReason(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', bdh: sha256Base64url('{"amount":1000}') } }), 'PERMIT_BINDING_MISMATCH', bodyRoute, chargeReq, body);
      await expectReason(permit(), 'PERMIT_BINDING_MISMATCH', bodyRoute, chargeReq, body);
    });
    it('query: different or missing qh; no query hashes ""', async () => {
      const withQuery = normalized('POST', 'http://api.test/v1/charges?amount=100');
      const qh = sha256Base64url('amount=100');
      assert.ok((await check(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', qh } }), queryRoute, withQuery)).ok);
      await expectReason(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', qh: sha256Base64url('amount=9999') } }), 'PERMIT_BINDING_MISMATCH', queryRoute, withQuery);
      await expectReason(permit(), 'PERMIT_BINDING_MISMATCH', queryRoute, withQuery);
      assert.ok((await check(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', qh: sha256Base64url('') } }), queryRoute, chargeReq)).ok);
      await expectReason(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', qh } }), 'PERMIT_BINDING_MISMATCH', queryRoute, chargeReq);
    });
  });

  it('a 100 KB token → PERMIT_MALFORMED without decoding it', async () => {
    const out = await failing(permit({ pad: 'x'.repeat(100 * 1024) }), 'PERMIT_MALFORMED');
    assert.equal(out.ok ? undefined : out.facts, undefined);
  });

  it('garbage → PERMIT_MALFORMED', async () => {
    for (const g of ['garbage', 'a.b.c', '..', 'a.b', `${b64u({ alg: 'EdDSA' })}.${b64u([1, 2])}.AAAA`, `${b64u('null')}.${b64u({})}.AAAA`, `!!!.${b64u({})}.AAAA`, `${b64u({ alg: 'EdDSA', kid: 'ed-1', typ: 'permit+jwt' })}.${b64u(claims(NOW_S))}.A`, '\u00ff'.repeat(40)]) {
      await expectReason(g, 'PERMIT_MALFORMED');
    }
  });
});

describe('permit check: keys unavailable', () => {
  it('an issuer whose JWKS cannot be fetched → SILENCE KEYS_UNAVAILABLE', async () => {
    const down = createIssuerKeys([{ iss: ISS, jwks: 'https://127.0.0.1:1/jwks.json', algorithms: ['EdDSA'] }], { fetchTimeoutMs: 500 });
    await down.init();
    assert.equal(down.ready(), false);
    const c = createPermitChecker({
      config: { header: 'Egress-Permit', issuers: [], clockSkewS: SKEW, maxTtlS: MAX_TTL, replay: 'memory', gateId: GATE_ID },
      keys: down,
      clock: () => NOW_S * 1000,
    });
    const out = await c.check({ token: permit(), route: charge, request: chargeReq });
    assert.equal(out.ok ? 'ok' : out.reason, 'KEYS_UNAVAILABLE');
    assert.equal(out.ok ? undefined : out.facts?.kid, 'ed-1');
    await down.close();
  });
});

describe('permit check: details an agent can act on (issue 16)', () => {
  const detailOf = async (token: string, reason: string, r?: Route, request?: typeof chargeReq, bodySha256?: string) => {
    const out = await failing(token, reason, r, request, bodySha256);
    return out.ok ? '' : out.detail;
  };

  it('PERMIT_EXPIRED: RFC 3339 and how long ago', async () => {
    const d = await detailOf(permit({ iat: NOW_S - 600, exp: NOW_S - 303 }), 'PERMIT_EXPIRED');
    assert.equal(d, `the permit expired at ${new Date((NOW_S - 303) * 1000).toISOString().replace('.000Z', 'Z')}, 5m 3s ago (clock_skew ${SKEW}s allowed)`);
    assert.match(d, /expired at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/);
    assert.equal(expiredDetail(100, 100 + 90_061, 5), 'the permit expired at 1970-01-01T00:01:40Z, 1d 1h 1m 1s ago (clock_skew 5s allowed)');
    assert.equal(expiredDetail(100, 105, 5), 'the permit expired at 1970-01-01T00:01:40Z, 5s ago (clock_skew 5s allowed)');
  });

  it('PERMIT_BINDING_MISMATCH: the method, URL or digest the gate expected, never the permit', async () => {
    assert.equal(await detailOf(permit({ req: { htm: 'GET', htu: 'http://api.test/v1/charges' } }), 'PERMIT_BINDING_MISMATCH'),
      'the permit is bound to another method: the gate expected req.htm "POST"');
    const url = await detailOf(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/refunds' } }), 'PERMIT_BINDING_MISMATCH');
    assert.equal(url, 'the permit is bound to another URL: the gate expected req.htu "http://api.test/v1/charges" (the normalized URL, without query)');
    assert.ok(!url.includes('/v1/refunds'), 'the permit\'s own binding is not echoed');
    const bodyRoute = route({ surface: 'payments', action: 'charge.create', bindBody: true, match: { host: 'api.test', path: '/v1/charges' } });
    const body = sha256Base64url('{"amount":100}');
    const other = sha256Base64url('{"amount":1000}');
    const bd = await detailOf(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', bdh: other } }), 'PERMIT_BINDING_MISMATCH', bodyRoute, chargeReq, body);
    assert.equal(bd, `the permit is bound to another body: the gate expected req.bdh "${body}" (base64url SHA-256 of the body it received)`);
    assert.ok(!bd.includes(other));
    assert.match(await detailOf(permit(), 'PERMIT_BINDING_MISMATCH', bodyRoute, chargeReq, body), new RegExp(`has no "req.bdh": the gate expected req.bdh "${body}"`));
    const queryRoute = route({ surface: 'payments', action: 'charge.create', bindQuery: true, match: { host: 'api.test', path: '/v1/charges' } });
    const withQuery = normalized('POST', 'http://api.test/v1/charges?amount=100');
    assert.equal(await detailOf(permit({ req: { htm: 'POST', htu: 'http://api.test/v1/charges', qh: 'x' } }), 'PERMIT_BINDING_MISMATCH', queryRoute, withQuery),
      `the permit is bound to another query string: the gate expected req.qh "${sha256Base64url('amount=100')}" (base64url SHA-256 of the query string)`);
  });
});
