/**
 * An unwritable receipt log: the gate's file-size limit is lowered on the running process
 * (prlimit --fsize), so the next receipt write fails with EFBIG. The request must end
 * SILENCE RECEIPT_UNAVAILABLE with no Egress-Receipt, the origin untouched, /readyz 503 —
 * and once the limit is lifted the gate recovers without a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { adminGet, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from './harness.js';
import { checkV2Log } from '../fixtures/receipts/receipt-fixtures.js';

describe('receipt write failure', () => {
  before(() => {
    assert.equal(spawnSync('prlimit', ['--version']).status, 0, 'this test needs prlimit (Debian package util-linux)');
  });
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;

  before(async () => {
    origin = await startOrigin();
    ws = await workspace({
      routes: { routes: [{ surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: origin.port, method: '*', path: '/w/**' }, authorize: 'none' }] },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('SILENCE RECEIPT_UNAVAILABLE while the log cannot grow, then recovery', async () => {
    const ok1 = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/w/before`);
    assert.equal(ok1.status, 200);
    const files = fs.readdirSync(ws.receiptsDir).filter((f) => !f.startsWith('.')).map((f) => fs.statSync(path.join(ws.receiptsDir, f)).size);
    const limit = Math.max(...files) + 10; // room for no whole receipt line
    execFileSync('prlimit', ['--pid', String(gate.proc.pid), `--fsize=${limit}:`]);

    const blocked = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/w/during`);
    assert.equal(blocked.status, 503);
    assert.equal(blocked.json.decision, 'SILENCE');
    assert.equal(blocked.json.reason, 'RECEIPT_UNAVAILABLE');
    assert.equal(blocked.headers['egress-receipt'], undefined);
    assert.equal(blocked.json.receipt, undefined);
    assert.ok(blocked.headers['retry-after']);
    assert.equal(origin.byPath('/w/during').length, 0, 'nothing left without its receipt');
    const ready = await adminGet(ws.adminPort, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.receipts.writable, false);

    execFileSync('prlimit', ['--pid', String(gate.proc.pid), '--fsize=unlimited:']);
    const ok2 = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/w/after`);
    assert.equal(ok2.status, 200, ok2.text);
    assert.equal((await adminGet(ws.adminPort, '/readyz')).status, 200);

    // The failed commit left nothing a later commit sealed: the log verifies, /w/during is absent.
    const vkey = (await adminGet(ws.adminPort, '/receipts/key')).text.trim();
    const { entries } = checkV2Log(ws.receiptsDir, vkey);
    assert.equal(entries.filter((e) => String(e.entry!.request && (e.entry!.request as { url: string }).url).endsWith('/w/during')).length, 0);
  });
});
