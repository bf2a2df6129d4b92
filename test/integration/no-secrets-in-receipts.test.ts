/**
 * Receipts hold digests, never values: secrets sent in the query, in headers and in the body
 * appear nowhere in the receipt folder (and the permit token never does either).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from './harness.js';

describe('no secrets in receipts', () => {
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  before(async () => {
    origin = await startOrigin();
    ws = await workspace({
      routes: { routes: [
        { surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: origin.port, method: '*', path: '/s/**' }, authorize: 'none' },
        { surface: 'pay', action: 'x', match: { scheme: 'http', host: 'api.it', port: origin.port, method: 'POST', path: '/p' }, authorize: 'permit', bind_body: true },
      ] },
    });
    gate = await startGate(ws);
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('query, header and body secrets are not written', async () => {
    const q = 'QSECRET-4f1a9c';
    const h = 'HSECRET-77be20';
    const b = 'BSECRET-0c3d55';
    const tok = 'eyJhbGciOiJFZERTQSJ9.PERMITSECRET-9921.c2ln';
    await viaProxy(ws.listenPort, `http://open.it:${origin.port}/s/a?token=${q}`, { headers: { authorization: `Bearer ${h}`, cookie: `sid=${h}` } });
    await viaProxy(ws.listenPort, `http://api.it:${origin.port}/p?k=${q}`, { method: 'POST', body: b, headers: { 'egress-permit': tok, authorization: h } });
    // Every file of the folder, the lock and the node index (.tree/) included; entries are JSON text.
    const all = (fs.readdirSync(ws.receiptsDir, { recursive: true }) as string[]).map((f) => path.join(ws.receiptsDir, f))
      .filter((f) => fs.statSync(f).isFile()).map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    assert.ok(all.length > 0);
    for (const s of [q, h, b, 'PERMITSECRET-9921', tok]) assert.ok(!all.includes(s), `${s} found in receipts`);
    assert.ok(!gate.output().includes(h), 'header secret in the gate output');
  });
});
