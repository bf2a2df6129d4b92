/**
 * The decider client against a real loopback HTTP server: every SPEC §6 answer shape, the
 * timeout, a reset connection, and the fail-fast breaker (5 failures → 1 s fail-fast → one trial).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeciderClient, interpretAnswer } from '../../../runtime/decider-client.js';
import type { DeciderInput } from '../../../proxy/pipeline/ports.js';

const INPUT: DeciderInput = {
  gate: 'g', subject: 'agent:x', surface: 's', action: 'a',
  request: { method: 'POST', url: 'http://x/y', host: 'x', path: '/y', query_sha256: null, body_sha256: null, idempotency_key: null },
  permit: null,
};

describe('interpretAnswer (OPA data-API shapes)', () => {
  const table: [string, string, string][] = [
    ['{"result":{"decision":"PERMIT","reason":"ok"}}', 'PERMIT', 'DECIDER_PERMIT'],
    ['{"result":{"decision":"DENY"}}', 'DENY', 'DECIDER_DENY'],
    ['{"result":true}', 'PERMIT', 'DECIDER_PERMIT'],
    ['{"result":false}', 'DENY', 'DECIDER_DENY'],
    ['{}', 'SILENCE', 'DECIDER_ERROR'],
    ['{"result":"yes"}', 'SILENCE', 'DECIDER_ERROR'],
    ['{"result":{"decision":"permit"}}', 'SILENCE', 'DECIDER_ERROR'],
    ['{"result":null}', 'SILENCE', 'DECIDER_ERROR'],
    ['{"result":1}', 'SILENCE', 'DECIDER_ERROR'],
    ['[]', 'SILENCE', 'DECIDER_ERROR'],
    ['null', 'SILENCE', 'DECIDER_ERROR'],
    ['<html>oops', 'SILENCE', 'DECIDER_ERROR'],
    ['', 'SILENCE', 'DECIDER_ERROR'],
  ];
  for (const [body, decision, reason] of table) {
    it(`${JSON.stringify(body)} → ${decision} ${reason}`, () => {
      const a = interpretAnswer(body);
      assert.equal(a.decision, decision);
      assert.equal(a.reason, reason);
    });
  }
  it('keeps the decider reason in the detail, bounded', () => {
    assert.equal(interpretAnswer('{"result":{"decision":"DENY","reason":"over budget"}}').detail, 'over budget');
    assert.equal(interpretAnswer(JSON.stringify({ result: { decision: 'DENY', reason: 'x'.repeat(500) } })).detail.length, 200);
  });
});

type Mode = 'ok' | 'deny' | '500' | 'garbage' | 'empty' | 'yes' | 'sleep' | 'reset';

describe('DeciderClient over HTTP', () => {
  let server: http.Server;
  let url: string;
  let mode: Mode = 'ok';
  let seen: unknown[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const c: Buffer[] = [];
      req.on('data', (d: Buffer) => c.push(d));
      req.on('end', () => {
        seen.push(JSON.parse(Buffer.concat(c).toString()));
        switch (mode) {
          case 'ok': res.end('{"result":{"decision":"PERMIT","reason":"fine"}}'); return;
          case 'deny': res.end('{"result":{"decision":"DENY","reason":"no"}}'); return;
          case '500': res.writeHead(500); res.end('{"result":true}'); return;
          case 'garbage': res.end('\x00\x01not json'); return;
          case 'empty': res.end('{}'); return;
          case 'yes': res.end('{"result":"yes"}'); return;
          case 'sleep': setTimeout(() => { if (!res.destroyed) res.end('{"result":true}'); }, 1000); return;
          case 'reset': req.socket.resetAndDestroy(); return;
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/data/egress/decision`;
  });
  after(() => { server.closeAllConnections(); server.close(); });

  it('POSTs {"input": …} and maps each failure to its SILENCE reason', async () => {
    const d = new DeciderClient({ url, timeoutMs: 150 });
    try {
      mode = 'ok'; seen = [];
      assert.equal((await d.ask(INPUT)).reason, 'DECIDER_PERMIT');
      assert.deepEqual(seen[0], { input: INPUT });
      const cases: [Mode, string][] = [['deny', 'DECIDER_DENY'], ['500', 'DECIDER_ERROR'], ['garbage', 'DECIDER_ERROR'], ['empty', 'DECIDER_ERROR'], ['yes', 'DECIDER_ERROR'], ['reset', 'DECIDER_ERROR']];
      for (const [m, reason] of cases) {
        mode = m;
        assert.equal((await d.ask(INPUT)).reason, reason, m);
        mode = 'ok';
        assert.equal((await d.ask(INPUT)).reason, 'DECIDER_PERMIT', `recovers after ${m}`);
      }
      mode = 'sleep';
      const t0 = Date.now();
      const a = await d.ask(INPUT);
      assert.equal(a.reason, 'DECIDER_TIMEOUT');
      assert.ok(Date.now() - t0 < 150 + 200, `answered in ${Date.now() - t0} ms`);
    } finally { await d.close(); }
  });

  it('connection refused is DECIDER_ERROR, not a timeout', async () => {
    const d = new DeciderClient({ url: 'http://127.0.0.1:1/v1/data/x', timeoutMs: 150 });
    try { assert.equal((await d.ask(INPUT)).reason, 'DECIDER_ERROR'); } finally { await d.close(); }
  });

  it('fails fast for 1 s after 5 failures in a row, then lets one trial through', async () => {
    let now = 1_000_000;
    const d = new DeciderClient({ url, timeoutMs: 150, clock: () => now });
    try {
      mode = '500'; seen = [];
      for (let i = 0; i < 5; i++) assert.equal((await d.ask(INPUT)).reason, 'DECIDER_ERROR');
      assert.equal(seen.length, 5);
      mode = 'ok';
      const fast = await d.ask(INPUT);
      assert.equal(fast.reason, 'DECIDER_ERROR');
      assert.match(fast.detail, /failing fast/);
      assert.equal(seen.length, 5, 'fail-fast asks nothing');
      now += 999;
      assert.equal((await d.ask(INPUT)).reason, 'DECIDER_ERROR');
      assert.equal(seen.length, 5);
      now += 2;
      // The trial fails: another second of fail-fast.
      mode = '500';
      assert.equal((await d.ask(INPUT)).reason, 'DECIDER_ERROR');
      assert.equal(seen.length, 6, 'one trial reached the decider');
      mode = 'ok';
      assert.match((await d.ask(INPUT)).detail, /failing fast/);
      now += 1001;
      // Only one trial at a time: concurrent asks during the trial fail fast.
      mode = 'sleep';
      const [trial, other] = await Promise.all([d.ask(INPUT), d.ask(INPUT)]);
      assert.equal(trial.reason, 'DECIDER_TIMEOUT');
      assert.match(other.detail, /failing fast/);
      assert.equal(seen.length, 7);
      now += 1001;
      mode = 'ok';
      assert.equal((await d.ask(INPUT)).reason, 'DECIDER_PERMIT', 'a good trial closes the breaker');
      mode = '500';
      for (let i = 0; i < 4; i++) await d.ask(INPUT);
      mode = 'ok';
      assert.equal((await d.ask(INPUT)).reason, 'DECIDER_PERMIT', '4 failures do not open it');
    } finally { await d.close(); }
  });
});
