/**
 * deploy/shipping/save-head.sh against real loopback servers: a JWS head is saved to a
 * timestamped file, verbatim; a body that is not a compact JWS, or an unreachable gate, is
 * not saved and makes the script exit 1 (after saving the others). Needs sh and curl.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'deploy/shipping/save-head.sh');
const HEAD = 'eyJhbGciOiJFZERTQSJ9.eyJzZXEiOjQyfQ.c2lnbmF0dXJl';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'eg-heads-'));
let server: http.Server;
let base = '';

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/receipts/head') res.end(req.headers.host?.startsWith('127.') ? HEAD : 'not a jws');
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => { server.close(); rmSync(tmp, { recursive: true, force: true }); });

// Asynchronous: the servers answering the script live in this process.
function run(...args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('sh', [script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (status) => resolve({ status, stderr }));
  });
}

describe('save-head.sh', () => {
  it('saves the head verbatim to DEST/NAME/head-<UTC timestamp>.jws', async () => {
    const r = await run(path.join(tmp, 'a'), `gate-0=${base}`);
    assert.equal(r.status, 0, r.stderr);
    const files = readdirSync(path.join(tmp, 'a/gate-0'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^head-\d{8}T\d{6}Z\.jws$/);
    assert.equal(readFileSync(path.join(tmp, 'a/gate-0', files[0]!), 'utf8'), HEAD);
  });

  it('refuses a body that is not a compact JWS, and an unreachable gate, but saves the rest', async () => {
    const other = base.replace('127.0.0.1', 'localhost');
    const r = await run(path.join(tmp, 'b'), `bad=${other}`, 'gone=http://127.0.0.1:1', `good=${base}`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bad: the response is not a compact JWS/);
    assert.match(r.stderr, /gone: cannot fetch/);
    assert.deepEqual(readdirSync(path.join(tmp, 'b')).sort(), ['bad', 'gone', 'good']);
    assert.deepEqual(readdirSync(path.join(tmp, 'b/bad')), []);
    assert.equal(readdirSync(path.join(tmp, 'b/good')).length, 1);
  });

  it('exits 2 on usage errors', async () => {
    assert.equal((await run(tmp)).status, 2);
    assert.equal((await run(tmp, 'ftp://x')).status, 2);
  });
});
