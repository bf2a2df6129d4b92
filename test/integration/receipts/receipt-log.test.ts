/**
 * The gate's receipt log end to end: shared commits under concurrency (far fewer checkpoints
 * than entries), the admin receipt endpoints answering proofs that verify with the tlog
 * primitives, `start` first (with the verifier key) and `stop` last, and one gate per folder —
 * a second gate on the same receipts.dir exits 2 with one line and writes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { adminGet, BIN, cleanEnv, freePort, readCheckpoints, readReceipts, startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { checkV2Log } from '../../fixtures/receipts/receipt-fixtures.js';
import { openCheckpoint } from '../../../receipts/tlog/checkpoint.js';
import { verifyConsistency } from '../../../receipts/tlog/merkle.js';
import { parseVerifierKey } from '../../../receipts/tlog/signed-note.js';
import { parseConsistencyAnswer, verifyTlogProof } from '../../../receipts/tlog/tlog-proof.js';

describe('receipt log (gate)', () => {
  let origin: Origin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let vkey: string;

  before(async () => {
    origin = await startOrigin();
    ws = await workspace({
      routes: { routes: [{ surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: origin.port, method: '*', path: '/r/**' }, authorize: 'none' }] },
    });
    gate = await startGate(ws);
    vkey = (await adminGet(ws.adminPort, '/receipts/key')).text.trim();
  });
  after(async () => { await gate?.stop(); await origin?.close(); });

  it('/receipts/key is the verifier key of receipts.origin (default egress-gate/<gate.id>) and the start entry carries it', async () => {
    assert.equal(parseVerifierKey(vkey).name, 'egress-gate/gate-it');
    // The listeners are bound before `start` is written: it follows within a commit.
    for (let i = 0; i < 100 && readReceipts(ws.receiptsDir).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    const first = readReceipts(ws.receiptsDir)[0]!.payload;
    assert.deepEqual([first.kind, first.event, first.verifier_key, first.seq], ['lifecycle', 'start', vkey, 0]);
    const jwks = (await adminGet(ws.adminPort, '/jwks.json')).json;
    const raw = parseVerifierKey(vkey).publicKey.export({ format: 'jwk' }).x;
    assert.ok(jwks.keys.some((k: { x: string }) => k.x === raw), '/jwks.json keeps the receipt key as a JWK');
    assert.equal((await adminGet(ws.adminPort, '/receipts/head')).status, 404, '/receipts/head is gone');
  });

  it('20 concurrent requests share commits: far fewer checkpoints than entries, every one verifies', async () => {
    const before = readCheckpoints(ws.receiptsDir).length;
    const entriesBefore = readReceipts(ws.receiptsDir).length;
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => viaProxy(ws.listenPort, `http://open.it:${origin.port}/r/c-${i}`)));
    for (const r of rs) assert.equal(r.status, 200);
    await new Promise((r) => setTimeout(r, 200)); // outcomes
    const cps = readCheckpoints(ws.receiptsDir).length - before;
    const entries = readReceipts(ws.receiptsDir).length - entriesBefore;
    assert.equal(entries, 40, 'a decision and an outcome per request');
    assert.ok(cps * 3 <= entries, `${cps} checkpoints for ${entries} entries`);
    checkV2Log(ws.receiptsDir, vkey);
  });

  it('admin proofs: inclusion by id and seq, consistency from an older checkpoint, all verify; 404 and 400 where due', async () => {
    const r = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/r/proof`);
    const id = r.headers['egress-receipt'] as string;
    const cpRes = await adminGet(ws.adminPort, '/receipts/checkpoint');
    assert.equal(cpRes.status, 200);
    const c1 = openCheckpoint(cpRes.text, vkey);
    const mine = readReceipts(ws.receiptsDir).find((l) => l.payload.id === id)!;
    assert.ok(c1.size > mine.payload.seq, 'the checkpoint covers the acknowledged entry');
    const byId = await adminGet(ws.adminPort, `/receipts/proof?id=${id}`);
    assert.equal(byId.status, 200, byId.text);
    const v = verifyTlogProof(byId.text, vkey);
    assert.equal(v.entry.toString('utf8'), mine.raw);
    assert.equal(v.index, mine.payload.seq);
    // By seq: the same entry (the tree may have grown by its outcome meanwhile, so the path may differ).
    const bySeq = verifyTlogProof((await adminGet(ws.adminPort, `/receipts/proof?seq=${mine.payload.seq}`)).text, vkey);
    assert.deepEqual([bySeq.index, bySeq.entry.toString('utf8')], [v.index, mine.raw]);
    assert.equal(verifyTlogProof((await adminGet(ws.adminPort, '/receipts/proof?seq=0')).text, vkey).index, 0);
    assert.equal((await adminGet(ws.adminPort, '/receipts/proof?id=01890000-0000-7000-8000-000000000000')).status, 404);
    assert.equal((await adminGet(ws.adminPort, `/receipts/proof?seq=${c1.size + 100}`)).status, 404);
    for (const q of ['', '?seq=x', '?seq=-1', '?id=a&seq=1', '?seq=01']) assert.equal((await adminGet(ws.adminPort, `/receipts/proof${q}`)).status, 400, q);

    for (let i = 0; i < 3; i++) await viaProxy(ws.listenPort, `http://open.it:${origin.port}/r/more-${i}`);
    const cons = await adminGet(ws.adminPort, `/receipts/consistency?from=${c1.size}`);
    assert.equal(cons.status, 200, cons.text);
    const { path: p, checkpoint } = parseConsistencyAnswer(cons.text);
    const c2 = openCheckpoint(checkpoint, vkey);
    assert.ok(c2.size > c1.size);
    assert.ok(verifyConsistency(c1.size, c2.size, c1.root, c2.root, p));
    assert.equal((await adminGet(ws.adminPort, `/receipts/consistency?from=${c2.size + 1000}`)).status, 400);
    assert.equal((await adminGet(ws.adminPort, '/receipts/consistency')).status, 400);
    assert.equal(parseConsistencyAnswer((await adminGet(ws.adminPort, '/receipts/consistency?from=0')).text).path.length, 0);
  });

  it('a second gate on the same receipts.dir exits 2 with one line, writing nothing; the first log still verifies', async () => {
    const snapshot = () => fs.readdirSync(ws.receiptsDir).filter((n) => !n.startsWith('.')).map((n) => fs.readFileSync(path.join(ws.receiptsDir, n), 'utf8')).join('');
    const beforeBytes = snapshot();
    // Same config but other ports: the lock, not the ports, must stop it.
    const second = { ...ws.config, gate: { ...ws.config.gate, listen: `127.0.0.1:${await freePort()}`, admin: `127.0.0.1:${await freePort()}` } };
    const configPath = path.join(ws.dir, 'second.yaml');
    fs.writeFileSync(configPath, stringify(second));
    const r = spawnSync(process.execPath, [BIN, 'start', '--config', configPath], { cwd: ws.dir, env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /receipts\.dir .* is in use by another gate \(pid \d+/);
    assert.equal(snapshot(), beforeBytes, 'the second gate wrote nothing');
    assert.equal((await viaProxy(ws.listenPort, `http://open.it:${origin.port}/r/still`)).status, 200);
    checkV2Log(ws.receiptsDir, vkey);
  });

  it('a start that dies on EADDRINUSE writes nothing; stop is the last entry, after the outcomes', async () => {
    assert.equal(await gate.stop(), 0);
    const all = readReceipts(ws.receiptsDir);
    assert.deepEqual([all.at(-1)!.payload.kind, all.at(-1)!.payload.event], ['lifecycle', 'stop']);
    const beforeBytes = fs.readdirSync(ws.receiptsDir).filter((n) => !n.startsWith('.')).map((n) => fs.readFileSync(path.join(ws.receiptsDir, n), 'utf8')).join('');
    const blocker = await import('node:net').then((net) => new Promise<import('node:net').Server>((res) => { const s = net.createServer(); s.listen(ws.listenPort, '127.0.0.1', () => res(s)); }));
    try {
      const r = spawnSync(process.execPath, [BIN, 'start', '--config', ws.configPath], { cwd: ws.dir, env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /address in use/);
    } finally {
      blocker.close();
    }
    const after = fs.readdirSync(ws.receiptsDir).filter((n) => !n.startsWith('.')).map((n) => fs.readFileSync(path.join(ws.receiptsDir, n), 'utf8')).join('');
    assert.equal(after, beforeBytes, 'no start, policy or recovered entry from the failed start');
    assert.equal(fs.existsSync(path.join(ws.receiptsDir, '.lock')), false, 'the failed start freed the folder');
    gate = await startGate(ws);
    checkV2Log(ws.receiptsDir, vkey);
  });
});
