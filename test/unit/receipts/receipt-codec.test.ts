import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import * as jose from 'jose';
import {
  createReceiptSigner, decodeReceiptLine, ed25519Thumbprint, importReceiptKeys, lineHash,
  ReceiptLineError, verifyReceiptLine,
} from '../../../receipts/receipt-codec.js';
import { newPrivateJwk, newSigner } from '../../fixtures/receipts/receipt-fixtures.js';

const b64json = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

describe('receipt-codec', () => {
  const signer = newSigner('rk-1');
  const keys = importReceiptKeys({ keys: [signer.publicJwk] });
  const payload = { v: 1, id: '01a216e1-59a8-74de-90d3-fbb0325845f7', seq: 0, prev: null, ts: '2025-01-01T00:00:00.000Z', gate: 'g', kind: 'decision' };

  it('canonical form: header exactly {alg,typ,kid}, payload the JSON.stringify bytes', () => {
    const line = signer.sign(payload);
    const [h, p, s] = line.split('.');
    assert.equal(Buffer.from(h!, 'base64url').toString(), '{"alg":"EdDSA","typ":"receipt+jwt","kid":"rk-1"}');
    assert.equal(Buffer.from(p!, 'base64url').toString(), JSON.stringify(payload));
    assert.equal(Buffer.from(s!, 'base64url').length, 64);
    assert.match(line, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('round trip with node:crypto and with jose.compactVerify', async () => {
    const line = signer.sign(payload);
    assert.deepEqual(verifyReceiptLine(line, keys).payload, payload);
    const key = await jose.importJWK(signer.publicJwk, 'EdDSA');
    const r = await jose.compactVerify(line, key);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(r.payload)), payload);
    assert.deepEqual(r.protectedHeader, { alg: 'EdDSA', typ: 'receipt+jwt', kid: 'rk-1' });
  });

  it('signHead: typ receipt-head+jwt of {seq, hash, ts}, verifiable only as a head', async () => {
    const head = signer.signHead({ seq: 7, hash: 'abc', ts: '2025-01-01T00:00:00.000Z' });
    assert.deepEqual(b64json(head.split('.')[0]!), { alg: 'EdDSA', typ: 'receipt-head+jwt', kid: 'rk-1' });
    assert.deepEqual(verifyReceiptLine(head, keys, 'receipt-head+jwt').payload, { seq: 7, hash: 'abc', ts: '2025-01-01T00:00:00.000Z' });
    assert.throws(() => verifyReceiptLine(head, keys), (e: ReceiptLineError) => e.code === 'RECEIPT_TYP_INVALID');
    await jose.compactVerify(head, await jose.importJWK(signer.publicJwk, 'EdDSA'));
  });

  it('publicJwk has no private part; kid defaults to the RFC 7638 thumbprint', async () => {
    const jwk = newPrivateJwk();
    const s = createReceiptSigner(jwk);
    assert.deepEqual(Object.keys(s.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(s.kid, await jose.calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x! }));
    assert.equal(s.kid, ed25519Thumbprint(jwk.x!));
    assert.equal(createPublicKey({ key: s.publicJwk, format: 'jwk' }).asymmetricKeyType, 'ed25519');
  });

  it('rejects non-Ed25519 or public-only keys at construction with TypeError', () => {
    const { d: _d, ...pub } = newPrivateJwk();
    assert.throws(() => createReceiptSigner(pub), TypeError);
    assert.throws(() => createReceiptSigner({ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }), TypeError);
  });

  it('lineHash is base64url SHA-256 of the line bytes', () => {
    assert.equal(lineHash('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  const cases: { name: string; mutate: (line: string) => string; code: string; reason: RegExp }[] = [
    { name: 'not a JWS', mutate: () => 'hello', code: 'RECEIPT_MALFORMED', reason: /not a compact JWS/ },
    { name: 'empty', mutate: () => '', code: 'RECEIPT_MALFORMED', reason: /empty line/ },
    { name: 'changed payload', mutate: (l) => { const [h, , s] = l.split('.'); return `${h}.${Buffer.from(JSON.stringify({ ...payload, seq: 1 })).toString('base64url')}.${s}`; }, code: 'RECEIPT_SIGNATURE_INVALID', reason: /signature does not verify/ },
    { name: 'foreign key', mutate: () => newSigner('rk-1').sign(payload), code: 'RECEIPT_SIGNATURE_INVALID', reason: /signature/ },
    { name: 'unknown kid', mutate: () => newSigner('other').sign(payload), code: 'RECEIPT_KEY_UNKNOWN', reason: /kid "other"/ },
    { name: 'alg none', mutate: (l) => `${Buffer.from('{"alg":"none","typ":"receipt+jwt","kid":"rk-1"}').toString('base64url')}.${l.split('.')[1]}.${l.split('.')[2]}`, code: 'RECEIPT_ALG_INVALID', reason: /alg "none"/ },
    // 64 bytes take 86 base64url characters with 4 unused bits; setting one gives another spelling of the same bytes.
    { name: 'non-canonical signature spelling', mutate: (l) => `${l.slice(0, -1)}${String.fromCharCode(l.charCodeAt(l.length - 1) + 1)}`, code: 'RECEIPT_SIGNATURE_INVALID', reason: /signature does not verify/ },
  ];
  for (const c of cases) {
    it(`verify refuses: ${c.name}`, () => {
      const bad = c.mutate(signer.sign(payload));
      assert.throws(() => verifyReceiptLine(bad, keys), (e: unknown) => e instanceof ReceiptLineError && e.code.startsWith(c.code) && c.reason.test(e.message));
    });
  }

  it('the non-canonical spelling decodes to the same signature bytes (so only the spelling check refuses it)', () => {
    const l = signer.sign(payload);
    const alt = `${l.slice(0, -1)}${String.fromCharCode(l.charCodeAt(l.length - 1) + 1)}`;
    assert.deepEqual(Buffer.from(alt.split('.')[2]!, 'base64url'), Buffer.from(l.split('.')[2]!, 'base64url'));
  });

  it('decodeReceiptLine reads header and payload without a key', () => {
    const d = decodeReceiptLine(signer.sign(payload));
    assert.equal(d.header.kid, 'rk-1');
    assert.equal(d.payload.kind, 'decision');
  });

  it('signs fast with the cached key (> 2000/s even on a loaded machine)', () => {
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) signer.sign({ ...payload, seq: i });
    assert.ok(performance.now() - t0 < 1000);
  });
});
