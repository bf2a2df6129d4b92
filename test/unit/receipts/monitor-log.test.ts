/**
 * receipts monitor against a loopback HTTP server serving fixture checkpoints and consistency
 * answers: an honest log that grows is kept each round; a forked, shrunk, badly signed or
 * non-extending log is refused with the state file byte for byte as it was; a first run keeps.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseLogKey } from '../../../receipts/log-key.js';
import { monitorLog, MonitorError } from '../../../receipts/monitor-log.js';
import { signCheckpoint } from '../../../receipts/tlog/checkpoint.js';
import { consistencyPath, MemoryNodeSource, merkleRoot } from '../../../receipts/tlog/merkle.js';
import { formatConsistencyAnswer } from '../../../receipts/tlog/tlog-proof.js';
import { jwksOf, newKeyPair, tmpDir, V2LogBuilder } from '../../fixtures/receipts/v2-log.js';

/** What the fake admin serves: a checkpoint, and consistency answers computed from `leaves`. */
interface Served {
  checkpoint: string;
  consistency?: (from: number) => string;
  status?: number;
}
let served: Served;
let server: http.Server;
let url = '';

function honest(b: V2LogBuilder, size = b.leaves.length): Served {
  const note = b.checkpointAt(size);
  const mem = new MemoryNodeSource(b.leaves.slice(0, size));
  return { checkpoint: note, consistency: (from) => formatConsistencyAnswer(consistencyPath(mem, from, size), note) };
}

function grow(b: V2LogBuilder, n: number): void {
  for (let i = 0; i < n; i++) b.entry('lifecycle', { event: 'policy' });
  b.commit();
}

before(async () => {
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    if (served.status) { res.statusCode = served.status; res.end('nope'); return; }
    if (u.pathname === '/receipts/checkpoint') { res.end(served.checkpoint); return; }
    if (u.pathname === '/receipts/consistency' && served.consistency) { res.end(served.consistency(Number(u.searchParams.get('from')))); return; }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => { server.close(); });

describe('monitor-log', () => {
  it('keeps the first checkpoint, then each one that extends it; refusals leave the state as it was', async () => {
    const b = new V2LogBuilder();
    grow(b, 3);
    const key = parseLogKey(b.verifierKey);
    const state = path.join(tmpDir('mon-'), 'gate-0.checkpoint');
    served = honest(b);
    assert.deepEqual(await monitorLog({ url, key, stateFile: state }), { ok: true, first: true, from: 0, size: 3, root: merkleRoot(b.leaves).toString('base64') });
    assert.equal(fs.readFileSync(state, 'utf8'), b.checkpointAt(3));

    grow(b, 5);
    served = honest(b);
    assert.deepEqual(await monitorLog({ url: `${url}/`, key, stateFile: state }), { ok: true, first: false, from: 3, size: 8, root: merkleRoot(b.leaves).toString('base64') });
    assert.equal(fs.readFileSync(state, 'utf8'), b.checkpointAt(8));
    served = honest(b);
    assert.equal((await monitorLog({ url, key: parseLogKey(JSON.stringify(jwksOf(b.keys.publicKey))), stateFile: state })).ok, true, 'no growth, and a JWKS key');
    const kept = fs.readFileSync(state, 'utf8');

    const refuse = async (s: Served, reason: RegExp): Promise<void> => {
      served = s;
      const r = await monitorLog({ url, key, stateFile: state });
      assert.equal(r.ok, false, JSON.stringify(r));
      if (!r.ok) assert.match(r.reason, reason);
      assert.equal(fs.readFileSync(state, 'utf8'), kept, 'state untouched');
      assert.deepEqual(fs.readdirSync(path.dirname(state)), ['gate-0.checkpoint'], 'no temp file left');
    };
    // Shrunk: the log cut back to 5 entries, honestly signed.
    await refuse(honest(b, 5), /^\/receipts\/checkpoint: tree size 5 is smaller than the kept 8 \(the log was cut back\)$/);
    // Forked: same key and origin, another history, grown past the kept size.
    const fork = new V2LogBuilder({ origin: b.origin, keys: b.keys });
    grow(fork, 12);
    await refuse(honest(fork), /does not extend the kept tree size 8 .*the consistency proof does not verify$/);
    // Forked at the same size: a second signed checkpoint of size 8 with another root.
    await refuse({ checkpoint: fork.checkpointAt(8) }, /^\/receipts\/checkpoint: tree size 8 with root \S+, but the kept checkpoint of that size has root \S+ \(a fork\)$/);
    // Badly signed: the honest next tree, signed by another key.
    grow(b, 2);
    const good = honest(b);
    const forged = signCheckpoint({ origin: b.origin, size: 10, root: merkleRoot(b.leaves) }, b.origin, newKeyPair().privateKey);
    await refuse({ checkpoint: forged, consistency: good.consistency! }, /^\/receipts\/checkpoint: checkpoint signature does not verify/);
    // A consistency answer that ends with a badly signed checkpoint.
    await refuse({ checkpoint: good.checkpoint, consistency: (from) => good.consistency!(from).replace(good.checkpoint, forged) }, /^\/receipts\/consistency: checkpoint signature does not verify/);
    // A consistency path with one hash changed.
    await refuse({ checkpoint: good.checkpoint, consistency: (from) => { const t = good.consistency!(from); return `${t[0] === 'A' ? 'B' : 'A'}${t.slice(1)}`; } }, /the consistency proof does not verify$/);

    served = good;
    assert.equal((await monitorLog({ url, key, stateFile: state })).ok, true, 'the honest log is still kept afterwards');
    assert.equal(fs.readFileSync(state, 'utf8'), b.checkpointAt(10));
  });

  it('throws MonitorError (nothing judged, nothing kept) when the gate cannot be asked or the state is not this key\'s', async () => {
    const b = new V2LogBuilder();
    grow(b, 2);
    const key = parseLogKey(b.verifierKey);
    const dir = tmpDir('mon-');
    const state = path.join(dir, 's.checkpoint');
    await assert.rejects(monitorLog({ url: 'http://127.0.0.1:1', key, stateFile: state }), (e: Error) => e instanceof MonitorError && /^cannot fetch http:\/\/127\.0\.0\.1:1\/receipts\/checkpoint/.test(e.message));
    served = { ...honest(b), status: 503 };
    await assert.rejects(monitorLog({ url, key, stateFile: state }), /answered 503/);
    assert.deepEqual(fs.readdirSync(dir), []);
    const other = new V2LogBuilder();
    grow(other, 1);
    fs.writeFileSync(state, other.checkpointAt(1));
    served = honest(b);
    await assert.rejects(monitorLog({ url, key, stateFile: state }), /does not hold a checkpoint of this key/);
  });
});
