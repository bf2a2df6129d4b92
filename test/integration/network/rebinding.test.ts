/**
 * DNS rebinding: the gate runs in this process with a scripted resolver that answers an
 * allowed address first and loopback afterwards. The request must go to exactly the address
 * that was checked, with one lookup per request — never to the address a second lookup
 * would give — and the next request, now answered with loopback, is DESTINATION_PRIVATE.
 * The name does not exist in system DNS, so a 200 also proves undici connected through the
 * pool's fixed `connect.lookup` rather than its own resolution.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { loadConfig } from '../../../policy/load-config.js';
import { startGate, type RunningGate } from '../../../proxy/gate.js';
import { createLogger } from '../../../runtime/logger.js';
import { receiptById, workspace, type GateWorkspace } from '../harness.js';
import { absoluteGet, countingOrigin, rawRequest, type CountingOrigin } from './raw-http.js';

describe('network: DNS rebinding between check and connect', () => {
  let checked: CountingOrigin;
  let rebound: CountingOrigin;
  let ws: GateWorkspace;
  let gate: RunningGate;
  const calls: string[] = [];
  const logs: string[] = [];

  before(async () => {
    checked = await countingOrigin('127.0.0.2');
    // The rebound address serves the same port, so a second resolution would reach it.
    rebound = await countingOrigin('127.0.0.1', checked.port);
    ws = await workspace({
      routes: { routes: [{ surface: 'rb', action: 'get', match: { scheme: 'http', host: '*.rebind.it', port: checked.port, method: '*', path: '/**' }, authorize: 'none' }] },
      config: (c) => { c.network = { block_private: true, allow_cidrs: ['127.0.0.2/32'], hosts: {} }; },
    });
    const config = await loadConfig(ws.configPath);
    const lookup = async (host: string) => {
      calls.push(host);
      // First answer for each name: the allowed address; every later answer: loopback.
      const first = calls.filter((h) => h === host).length === 1;
      return { address: first ? '127.0.0.2' : '127.0.0.1', family: 4 };
    };
    const log = createLogger({ level: 'info', destination: new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }) });
    gate = await startGate(config, { lookup, log });
  });
  after(async () => { await gate?.stop(1000); await checked?.close(); await rebound?.close(); });

  it('connects to the checked address after one lookup, never to the rebound one', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`a.rebind.it:${checked.port}`, '/first'));
    assert.equal(a.status, 200, a.raw);
    assert.equal(a.body, 'origin 127.0.0.2');
    assert.deepEqual(calls, ['a.rebind.it']);
    assert.deepEqual(checked.hits, ['GET /first']);
    assert.deepEqual(rebound.hits, []);
  });

  it('the next request, now answered with loopback, is DESTINATION_PRIVATE and reaches nobody', async () => {
    const a = await rawRequest(ws.listenPort, absoluteGet(`a.rebind.it:${checked.port}`, '/second'));
    assert.equal(a.status, 403, a.raw);
    assert.equal(a.headers['egress-reason'], 'DESTINATION_PRIVATE');
    assert.equal(receiptById(ws.receiptsDir, a.headers['egress-receipt'])?.payload.reason, 'DESTINATION_PRIVATE');
    assert.deepEqual(calls, ['a.rebind.it', 'a.rebind.it']);
    assert.deepEqual(checked.hits, ['GET /first']);
    assert.deepEqual(rebound.hits, []);
  });

  it('concurrent first requests for fresh names each resolve once and all land on the checked address', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `n${i}.rebind.it`);
    const answers = await Promise.all(names.map((n) => rawRequest(ws.listenPort, absoluteGet(`${n}:${checked.port}`, `/${n}`))));
    for (const a of answers) assert.equal(a.body, 'origin 127.0.0.2', a.raw);
    for (const n of names) assert.equal(calls.filter((h) => h === n).length, 1, n);
    assert.deepEqual(rebound.hits, []);
  });
});
