/**
 * The record stage (proxy/pipeline/record.ts): the only place entries are appended, and the
 * only place a Clearance is issued — after the decision entry is durable, for a forwarding
 * verdict only.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { route } from '../../policy/route-factory.js';
import { DecisionHub, type ConsoleEvent } from '../../../../proxy/observe/console/decision-hub.js';
import { chainWith, head, MemorySink, noBody, policyOf, PROXY, recorderWith, replaySpy } from './pipeline-kit.js';

const open = route({ surface: 'public', action: 'read', authorize: 'none', match: { host: 'open.test' } });
const denied = route({ surface: 'demo', action: 'no', authorize: 'deny', match: { host: 'deny.test' } });
const chain = chainWith({ policy: () => policyOf([open, denied]) });
const decide = (host: string) => chain.decideRequest({ head: head('GET', `http://${host}/x?q=secret`), arrival: PROXY, body: noBody });

describe('Recorder', () => {
  it('a forwarding verdict with a durable entry gets a Clearance naming that entry', async () => {
    const sink = new MemorySink();
    const { recorder, metrics } = recorderWith(sink);
    const rec = await recorder.decision(await decide('open.test'));
    assert.ok(rec.clearance);
    assert.equal(rec.clearance.receiptId, 'r1');
    assert.equal(rec.receiptId, 'r1');
    const e = sink.entries[0]!;
    assert.equal(e.kind, 'decision');
    assert.equal(e.reason, 'NO_PERMIT_REQUIRED');
    const { query_sha256: q, ...request } = e.request as Record<string, unknown>;
    assert.deepEqual(request, { method: 'GET', url: 'http://open.test/x', body_sha256: null, idempotency_key: null });
    assert.match(String(q), /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!JSON.stringify(e).includes('secret'), 'no query string in the entry');
    assert.match(await metrics.registry.metrics(), /egress_gate_receipts_total\{kind="decision"\} 1/);
  });

  it('a blocked verdict is recorded but gets no Clearance', async () => {
    const sink = new MemorySink();
    const rec = await recorderWith(sink).recorder.decision(await decide('deny.test'));
    assert.equal(rec.clearance, undefined);
    assert.equal(rec.receiptId, 'r1');
    assert.equal(sink.entries[0]!.reason, 'ROUTE_DENY');
  });

  it('an entry that cannot be written is SILENCE RECEIPT_UNAVAILABLE: no Clearance, no receipt id, the permit claim released', async () => {
    const sink = new MemorySink();
    sink.fail = true;
    const replay = replaySpy();
    const decided = await decide('open.test');
    decided.attempt.claimedJti = 'jti-1';
    const rec = await recorderWith(sink, replay).recorder.decision(decided);
    assert.equal(rec.clearance, undefined);
    assert.equal(rec.receiptId, undefined);
    assert.equal(rec.verdict.decision.reason, 'RECEIPT_UNAVAILABLE');
    assert.equal(rec.verdict.forward, false);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(replay.finished, [['jti-1', '']]);
  });

  it('the outcome is written once per clearance, releasing the claim with the decision id', async () => {
    const sink = new MemorySink();
    const replay = replaySpy();
    const { recorder } = recorderWith(sink, replay);
    const decided = await decide('open.test');
    decided.attempt.claimedJti = 'jti-2';
    const c = (await recorder.decision(decided)).clearance!;
    await Promise.all([recorder.outcome(c, { status: 200, bytesUp: 1, bytesDown: 2 }), recorder.outcome(c, { status: 500, bytesUp: 0, bytesDown: 0 })]);
    const outcomes = sink.entries.filter((e) => e.kind === 'outcome');
    assert.equal(outcomes.length, 1);
    assert.deepEqual(outcomes[0], { kind: 'outcome', of: 'r1', status: 200, bytes_up: 1, bytes_down: 2, duration_ms: 0, error: null });
    assert.deepEqual(replay.finished, [['jti-2', 'r1']]);
  });

  it('a refusal is recorded with the decision; an unwritable log turns it into RECEIPT_UNAVAILABLE', async () => {
    const sink = new MemorySink();
    const { recorder } = recorderWith(sink);
    const d = { decision: 'DENY' as const, reason: 'REQUEST_INVALID' as const, detail: 'the HTTP parser refused the request (HPE_X)' };
    assert.deepEqual(await recorder.refusal(d), { decision: d, receiptId: 'r1' });
    assert.equal((sink.entries[0]!.request as { method: unknown }).method, null);
    sink.fail = true;
    const r = await recorder.refusal(d);
    assert.equal(r.receiptId, undefined);
    assert.equal(r.decision.reason, 'RECEIPT_UNAVAILABLE');
  });

  it('the console hub: nothing is published while nobody watches; a watcher gets each decision and outcome, without the query', async () => {
    let published = 0;
    const hub = new (class extends DecisionHub { override publish(e: ConsoleEvent) { published++; super.publish(e); } })();
    const sink = new MemorySink();
    const { recorder } = recorderWith(sink, undefined, hub);
    const unwatched = (await recorder.decision(await decide('open.test'))).clearance!;
    await recorder.outcome(unwatched, { status: 200, bytesUp: 0, bytesDown: 1 });
    await recorder.refusal({ decision: 'DENY', reason: 'REQUEST_INVALID', detail: 'x' });
    assert.equal(published, 0, 'no event is built or published without a watcher');
    const seen: ConsoleEvent[] = [];
    hub.add({ offer: (e) => seen.push(e) });
    const c = (await recorder.decision(await decide('open.test'))).clearance!;
    await recorder.outcome(c, { status: 201, bytesUp: 3, bytesDown: 4, durationMs: 5 });
    await recorder.decision(await decide('deny.test'));
    sink.fail = true;
    await recorder.decision(await decide('deny.test'));
    assert.deepEqual(seen.map((e) => (e.type === 'decision' ? [e.type, e.reason, e.receipt, e.url] : [e.type, e.of, e.status])), [
      ['decision', 'NO_PERMIT_REQUIRED', 'r4', 'http://open.test/x'],
      ['outcome', 'r4', 201],
      ['decision', 'ROUTE_DENY', 'r6', 'http://deny.test/x'],
      ['decision', 'RECEIPT_UNAVAILABLE', null, 'http://deny.test/x'],
    ]);
    assert.ok(!JSON.stringify(seen).includes('secret'), 'no query string in an event');
  });
});
