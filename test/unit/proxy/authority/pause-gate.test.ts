/**
 * The PauseGate (on_silence: pause) and decide() (report mode, SPEC §8), as pure parts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PauseGate } from '../../../../proxy/authority/pause-gate.js';
import { decide, modeFor } from '../../../../proxy/pipeline/decide.js';
import type { DeciderAnswer } from '../../../../proxy/pipeline/ports.js';
import { parseRouteMap } from '../../../../policy/parse-route-map.js';
import { decisionOf, type Reason } from '../../../../policy/reasons.js';
import type { Decision, Route } from '../../../../policy/types.js';

const SILENT: DeciderAnswer = { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'down' };
const PERMIT: DeciderAnswer = { decision: 'PERMIT', reason: 'DECIDER_PERMIT', detail: 'ok' };

describe('PauseGate', () => {
  it('re-asks until authority returns, and answers with the final decision', async () => {
    const g = new PauseGate(4, 20);
    let n = 0;
    const out = await g.hold(2000, SILENT, async () => (++n < 3 ? SILENT : PERMIT));
    assert.equal(out.reason, 'DECIDER_PERMIT');
    assert.equal(n, 3);
    assert.equal(g.held, 0);
  });

  it('gives up at pause_max with the last SILENCE', async () => {
    const g = new PauseGate(4, 20);
    let n = 0;
    const t0 = Date.now();
    const out = await g.hold(300, SILENT, async () => { n++; return { ...SILENT, reason: 'DECIDER_TIMEOUT' }; });
    const took = Date.now() - t0;
    assert.equal(out.decision, 'SILENCE');
    assert.equal(out.reason, 'DECIDER_TIMEOUT', 'the last answer stands');
    assert.ok(took >= 250 && took < 450, `held ${took} ms`);
    assert.ok(n >= 8 && n <= 15, `${n} re-asks`);
  });

  it('does not hold an answer that is not SILENCE', async () => {
    const g = new PauseGate(4, 20);
    let n = 0;
    assert.equal((await g.hold(1000, PERMIT, async () => { n++; return SILENT; })).reason, 'DECIDER_PERMIT');
    assert.equal(n, 0);
  });

  it('holds at most maxHeld requests; beyond that SILENCE at once', async () => {
    const g = new PauseGate(2, 20);
    let release!: () => void;
    const back = new Promise<void>((r) => { release = r; });
    const attempt = async () => { await back; return PERMIT; };
    const a = g.hold(5000, SILENT, attempt);
    const b = g.hold(5000, SILENT, attempt);
    await new Promise((r) => setImmediate(r));
    assert.equal(g.held, 2);
    const t0 = Date.now();
    let asked = false;
    const c = await g.hold(5000, SILENT, async () => { asked = true; return PERMIT; });
    assert.equal(c.reason, 'DECIDER_ERROR');
    assert.equal(asked, false);
    assert.ok(Date.now() - t0 < 20);
    release();
    assert.equal((await a).reason, 'DECIDER_PERMIT');
    assert.equal((await b).reason, 'DECIDER_PERMIT');
    assert.equal(g.held, 0);
  });

  it('refuses a bad bound at construction', () => {
    assert.throws(() => new PauseGate(-1), TypeError);
  });
});

const routes = parseRouteMap(`
routes:
  - { surface: s, action: plain, match: { host: a.test, method: GET, path: /p }, authorize: permit }
  - { surface: s, action: reported, match: { host: a.test, method: GET, path: /r }, authorize: permit, mode: report }
  - { surface: s, action: must, match: { host: a.test, method: GET, path: /m }, authorize: permit, must_enforce: true }
`, 'routes.yaml').routes;
const [plain, reported, must] = routes as [Route, Route, Route];
const d = (reason: Reason, route?: Route): Decision => ({ decision: decisionOf(reason), reason, detail: '', route, surface: route?.surface, action: route?.action });

describe('decide (report mode)', () => {
  it('enforce: only PERMIT forwards, and every verdict is enforced', () => {
    assert.deepEqual(decide(d('PERMIT_VALID', plain), 'enforce').forward, true);
    for (const r of ['PERMIT_MISSING', 'DECIDER_TIMEOUT', 'ROUTE_UNMATCHED', 'KEYS_UNAVAILABLE'] as Reason[]) {
      const v = decide(d(r, r === 'ROUTE_UNMATCHED' ? undefined : plain), 'enforce');
      assert.equal(v.forward, false, r);
      assert.equal(v.enforced, true, r);
    }
  });

  it('gate-wide report: every decision forwards with enforced false, PERMIT included', () => {
    for (const r of ['PERMIT_VALID', 'PERMIT_EXPIRED', 'ROUTE_DENY', 'DECIDER_ERROR', 'KEYS_UNAVAILABLE'] as Reason[]) {
      assert.deepEqual({ ...decide(d(r, plain), 'report'), decision: undefined }, { decision: undefined, enforced: false, forward: true }, r);
    }
    assert.equal(decide(d('ROUTE_UNMATCHED'), 'report').forward, true);
  });

  it('report mode never forwards what cannot be sound', () => {
    for (const r of ['REQUEST_INVALID', 'BODY_TOO_LARGE', 'DESTINATION_PRIVATE', 'TLS_SNI_MISMATCH', 'RECEIPT_UNAVAILABLE', 'PERMIT_IN_FLIGHT', 'POLICY_UNAVAILABLE', 'INTERNAL_ERROR'] as Reason[]) {
      const v = decide(d(r, r === 'POLICY_UNAVAILABLE' ? undefined : reported), 'report');
      assert.equal(v.forward, false, r);
      assert.equal(v.enforced, true, r);
    }
  });

  it('per-route report mode in an enforcing gate', () => {
    assert.deepEqual({ ...decide(d('PERMIT_MISSING', reported), 'enforce'), decision: undefined }, { decision: undefined, enforced: false, forward: true });
    assert.equal(decide(d('PERMIT_MISSING', plain), 'enforce').forward, false);
  });

  it('must_enforce is never in report mode', () => {
    assert.equal(modeFor(must, 'report'), 'enforce');
    const v = decide(d('PERMIT_MISSING', must), 'report');
    assert.equal(v.forward, false);
    assert.equal(v.enforced, true);
    assert.equal(decide(d('PERMIT_VALID', must), 'report').enforced, true);
  });
});
