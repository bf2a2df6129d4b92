/**
 * PermitRequests.rebuild: the requests that wait for people, rebuilt from a real arbiter log
 * (receipts/ReceiptLog, its own entries as IssuanceLog writes them), including logs cut off
 * between a decision and the entry that ends it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IssuanceLog, type IssuanceFields } from '../../../arbiter/issuance-log.js';
import { PermitRequests } from '../../../arbiter/permit-requests.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { newSigner, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

const signer = newSigner('rk-arbiter');
const T0 = Date.parse('2026-06-01T12:00:00Z');

const pending = (id: string, needed = 1): IssuanceFields => ({
  event: 'pending', decision: 'PENDING', reason: 'APPROVAL_REQUIRED', request_id: id, subject: 'agent:it', caller: { subject: 'agent:it', id: 'c1' },
  aud: 'g1', surface: 'notes', action: 'publish', request: { method: 'POST', url: 'http://api.test/publish', body_sha256: null, query_sha256: null },
  idempotency_key: null, txn: null, reason_given: null, grant: 'grant-1', needed, expires_at: new Date(T0 + 900_000).toISOString(),
});
const vote = (id: string, approver: string, approve: boolean): IssuanceFields => ({ event: 'vote', request_id: id, approver, approve, note: null });

async function rebuilt(entries: IssuanceFields[]): Promise<PermitRequests> {
  const dir = tmpDir('arbiter-log-');
  const receipts = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 64 * 1024 * 1024, gate: 'arbiter', origin: 'arbiter', clock: () => T0 });
  const log = new IssuanceLog(receipts);
  for (const e of entries) await log.append(e);
  await receipts.close();
  const requests = new PermitRequests();
  await requests.rebuild(dir);
  return requests;
}
const stateOf = (rs: PermitRequests, id: string) => rs.byId.get(id)?.state;

describe('PermitRequests.rebuild', () => {
  it('a request with fewer approvals than needed still waits; one with a resolved entry is ended by it', async () => {
    const rs = await rebuilt([
      pending('a', 2), vote('a', 'alice', true),
      pending('b'), vote('b', 'bob', false), { event: 'resolved', request_id: 'b', decision: 'DENY', reason: 'APPROVAL_DENIED' },
    ]);
    assert.equal(stateOf(rs, 'a'), 'pending');
    assert.equal(stateOf(rs, 'b'), 'denied');
    assert.equal(rs.byId.get('b')?.ended, undefined, 'an approver denial has no other reason');
    assert.deepEqual(rs.waiting().map((r) => r.id), ['a']);
  });

  it('approved by enough votes, cut off before its permit was signed: approved, so the next poll signs it', async () => {
    const rs = await rebuilt([pending('c', 2), vote('c', 'alice', true), vote('c', 'bob', true)]);
    assert.equal(stateOf(rs, 'c'), 'approved');
  });

  it('a denial logged as a vote, cut off before its resolved entry: denied, never approvable', async () => {
    const rs = await rebuilt([pending('d', 1), vote('d', 'alice', false)]);
    assert.equal(stateOf(rs, 'd'), 'denied');
    assert.deepEqual(rs.waiting(), []);
  });

  it('ended because it no longer matched at signing: denied with that reason and detail', async () => {
    const rs = await rebuilt([
      pending('e'), vote('e', 'alice', true),
      { event: 'resolved', request_id: 'e', decision: 'DENY', reason: 'ROUTE_DENY', detail: 'approved, but it no longer matches what was approved: the route denies this action' },
    ]);
    assert.equal(stateOf(rs, 'e'), 'denied');
    assert.deepEqual(rs.byId.get('e')?.ended, { reason: 'ROUTE_DENY', detail: 'approved, but it no longer matches what was approved: the route denies this action' });
  });
});
