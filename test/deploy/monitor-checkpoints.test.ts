/**
 * deploy/shipping/monitor-checkpoints.sh runs the real `egress-gate receipts monitor` (through
 * EGRESS_GATE, as the CronJob does) against loopback admin servers serving fixture checkpoints:
 * each gate's checkpoint is kept in STATE_DIR/NAME.checkpoint; a gate whose log shrank, or that
 * cannot be reached, is reported, its state left as it was, and the script exits 1 after
 * checking the others. Needs sh.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { consistencyPath, MemoryNodeSource } from '../../receipts/tlog/merkle.js';
import { formatConsistencyAnswer } from '../../receipts/tlog/tlog-proof.js';
import { buildV2Log, jwksOf, tmpDir } from '../fixtures/receipts/v2-log.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'deploy/shipping/monitor-checkpoints.sh');
const EGRESS_GATE = `${process.execPath} --import tsx ${path.join(root, 'cli/main.ts')}`;
const log = buildV2Log();
const keyFile = path.join(tmpDir('mon-key-'), 'receipt-key.jwks.json');
writeFileSync(keyFile, JSON.stringify(jwksOf(log.keys.publicKey)));
/** The tree size each server's log has now, by port. */
const sizes = new Map<number, number>();
const servers: http.Server[] = [];
const urls: string[] = [];

before(async () => {
  for (let i = 0; i < 2; i++) {
    const server = http.createServer((req, res) => {
      const size = sizes.get((req.socket.address() as AddressInfo).port)!;
      const u = new URL(req.url ?? '/', 'http://x');
      const note = log.checkpointAt(size);
      if (u.pathname === '/receipts/checkpoint') return void res.end(note);
      if (u.pathname === '/receipts/consistency') {
        return void res.end(formatConsistencyAnswer(consistencyPath(new MemoryNodeSource(log.leaves.slice(0, size)), Number(u.searchParams.get('from')), size), note));
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    sizes.set(port, 10);
    servers.push(server);
    urls.push(`http://127.0.0.1:${port}`);
  }
});
after(() => { for (const s of servers) s.close(); });

// Asynchronous: the servers answering the script live in this process.
function run(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('sh', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EGRESS_GATE } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const portOf = (url: string): number => Number(new URL(url).port);

describe('monitor-checkpoints.sh', () => {
  it('keeps each gate\'s checkpoint in STATE_DIR/NAME.checkpoint, round after round', async () => {
    const state = path.join(tmpDir('mon-'), 'state');
    const r = await run(state, keyFile, `gate-0=${urls[0]}`, `gate-1=${urls[1]}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(readdirSync(state).sort(), ['gate-0.checkpoint', 'gate-1.checkpoint']);
    sizes.set(portOf(urls[0]!), 23);
    const r2 = await run(state, keyFile, `gate-0=${urls[0]}`, `gate-1=${urls[1]}`);
    assert.equal(r2.status, 0, r2.stdout + r2.stderr);
    assert.match(r2.stdout, /tree size 10 -> 23 is consistent/);
    assert.equal(readFileSync(path.join(state, 'gate-0.checkpoint'), 'utf8'), log.checkpointAt(23));
    assert.equal(readFileSync(path.join(state, 'gate-1.checkpoint'), 'utf8'), log.checkpointAt(10));
  });

  it('reports a shrunk log and an unreachable gate, leaves their state, still checks the rest, exits 1', async () => {
    const state = tmpDir('mon-');
    sizes.set(portOf(urls[0]!), 23);
    sizes.set(portOf(urls[1]!), 12);
    assert.equal((await run(state, keyFile, `a=${urls[0]}`, `b=${urls[1]}`)).status, 0);
    sizes.set(portOf(urls[0]!), 14);
    sizes.set(portOf(urls[1]!), 20);
    const r = await run(state, keyFile, `a=${urls[0]}`, 'gone=http://127.0.0.1:1', `b=${urls[1]}`);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /tree size 14 is smaller than the kept 23/);
    assert.match(r.stderr, /monitor-checkpoints: a: NOT kept/);
    assert.match(r.stderr, /monitor-checkpoints: gone: NOT kept/);
    assert.equal(readFileSync(path.join(state, 'a.checkpoint'), 'utf8'), log.checkpointAt(23));
    assert.equal(readFileSync(path.join(state, 'b.checkpoint'), 'utf8'), log.checkpointAt(20), 'b was still checked and kept');
    assert.deepEqual(readdirSync(state).sort(), ['a.checkpoint', 'b.checkpoint']);
  });

  it('names the state after the URL host by default; exits 2 on usage errors', async () => {
    const state = tmpDir('mon-');
    sizes.set(portOf(urls[0]!), 5);
    assert.equal((await run(state, keyFile, urls[0]!)).status, 0);
    assert.deepEqual(readdirSync(state), ['127.checkpoint']);
    assert.equal((await run(state, keyFile)).status, 2);
    assert.equal((await run(state, keyFile, 'ftp://x')).status, 2);
    assert.equal((await run(state, path.join(state, 'no-such-key'), urls[0]!)).status, 2);
  });
});
