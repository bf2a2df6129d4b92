/**
 * Property (issue 17): on one connection, any sequence of requests (each with a unique path),
 * upgrades (WebSocket and other tokens), CONNECTs, refusals and garbage — pipelined in one
 * write or spread over several — never makes the origin receive a request without its own
 * PERMIT decision entry in the receipt log. The origin answers every upgrade 101 and counts
 * request lines that reach it through a splice too, so a splice opened for anything but a
 * decided WebSocket shows up as an undecided path. A WebSocket upgrade is only ever the last
 * element: what follows a decided WebSocket is its own traffic, spliced by design.
 *
 *   EGRESS_PROP_SEED=<n> EGRESS_PROP_RUNS=<n>   reproduce / widen (fast-check prints the seed)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import { readReceipts, startGate, workspace, type GateProcess, type GateWorkspace } from '../integration/harness.js';
import { upgradeOrigin, type UpgradeOrigin } from '../integration/network/raw-http.js';

const RUNS = Number(process.env.EGRESS_PROP_RUNS ?? 150);
const SEED = process.env.EGRESS_PROP_SEED !== undefined ? Number(process.env.EGRESS_PROP_SEED) : undefined;

type Step =
  | { kind: 'get' | 'deny' | 'close' | 'invalid' | 'dotparam' | 'te' | 'post' }
  | { kind: 'upgrade'; token: string; connection: string }
  | { kind: 'connect' }
  | { kind: 'garbage'; bytes: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constantFrom<Step>({ kind: 'get' }, { kind: 'deny' }, { kind: 'close' }, { kind: 'invalid' }, { kind: 'dotparam' }, { kind: 'te' }, { kind: 'post' }, { kind: 'connect' }),
  fc.record({
    kind: fc.constant('upgrade' as const),
    token: fc.constantFrom('h2c', 'H2C', 'websocket, h2c', 'h2c, websocket', 'TLS/1.0', 'foo', 'websocket'),
    connection: fc.constantFrom('Upgrade', 'Upgrade, HTTP2-Settings', 'keep-alive', 'close, Upgrade'),
  // A well-formed WebSocket upgrade is generated only as the last step (below).
  }).filter((s) => !(s.token === 'websocket' && /upgrade/i.test(s.connection))),
  fc.record({ kind: fc.constant('garbage' as const), bytes: fc.constantFrom('GARBAGE\r\n\r\n', '\x00\x01\xff\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'x'.repeat(20)) }),
);

describe('property: upgrades and pipelining never reach the origin undecided', () => {
  let origin: UpgradeOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;
  let n = 0;

  before(async () => {
    origin = await upgradeOrigin();
    const P = origin.port;
    ws = await workspace({
      routes: { routes: [
        { surface: 'prop', action: 'open', match: { host: 'open.it', port: P, method: '*', path: '/open/**' }, authorize: 'none' },
        { surface: 'prop', action: 'deny', match: { host: 'open.it', port: P, method: '*', path: '/deny/**' }, authorize: 'deny' },
      ] },
      config: (c) => { c.receipts.durability = 'none'; c.limits = { upstream_timeout: '2s', header_timeout: '2s' }; },
    });
    gate = await startGate(ws);
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
    if (ws) fs.rmSync(ws.dir, { recursive: true, force: true });
  });

  function bytesOf(s: Step, A: string, id: string): string {
    const line = (m: string, p: string, extra = '') => `${m} http://${A}${p} HTTP/1.1\r\nHost: ${A}\r\n${extra}\r\n`;
    switch (s.kind) {
      case 'get': return line('GET', `/open/${id}`);
      case 'deny': return line('GET', `/deny/${id}`);
      case 'close': return line('GET', `/open/${id}`, 'Connection: close\r\n');
      case 'invalid': return line('GET', `/open/${id}%2Fx`);
      case 'dotparam': return line('GET', `/open/${id}/..;/x`);
      case 'te': return line('POST', `/open/${id}`, 'Transfer-Encoding: gzip, chunked\r\n') + '5\r\nhello\r\n0\r\n\r\n';
      case 'post': return line('POST', `/open/${id}`, 'Content-Length: 2\r\n') + '{}';
      case 'upgrade': return line('GET', `/open/${id}`, `Connection: ${s.connection}\r\nUpgrade: ${s.token}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n`);
      case 'connect': return `CONNECT ${A} HTTP/1.1\r\nHost: ${A}\r\n\r\n`;
      case 'garbage': return s.bytes;
    }
  }

  /** Writes the pieces (gaps between writes when `spread`), then waits until the gate closes or goes quiet. */
  function converse(pieces: string[], spread: boolean): Promise<void> {
    return new Promise((resolve) => {
      const s = net.connect(ws.listenPort, '127.0.0.1');
      let t = setTimeout(() => s.destroy(), 600);
      const quiet = () => { clearTimeout(t); t = setTimeout(() => s.destroy(), 250); };
      s.on('data', quiet);
      s.on('error', () => undefined);
      s.on('close', () => { clearTimeout(t); resolve(); });
      s.on('connect', async () => {
        if (!spread) { s.write(pieces.join('')); return; }
        for (const p of pieces) { if (s.destroyed) return; s.write(p); quiet(); await new Promise((r) => setTimeout(r, 40)); }
      });
    });
  }

  it(`${RUNS} random connections: every path the origin saw has its own PERMIT decision entry`, { timeout: 120_000 }, async () => {
    const A = `open.it:${origin.port}`;
    await fc.assert(fc.asyncProperty(
      fc.array(step, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean(),
      async (steps, spread, endWithWebSocket) => {
        const run = ++n;
        const all: Step[] = endWithWebSocket ? [...steps, { kind: 'upgrade', token: 'websocket', connection: 'Upgrade' }] : steps;
        const pieces = all.map((s, i) => bytesOf(s, A, `r${run}-s${i}-${s.kind}`));
        const before = origin.seen.length;
        await converse(pieces, spread);
        await new Promise((r) => setTimeout(r, 50));
        const seen = origin.seen.slice(before).map((l) => l.split(' ')[1]!);
        const permitted = new Set(readReceipts(ws.receiptsDir)
          .filter((r) => r.payload.kind === 'decision' && r.payload.decision === 'PERMIT')
          .map((r) => new URL(String(r.payload.request.url)).pathname));
        for (const p of seen) {
          assert.ok(permitted.has(p.split('?')[0]!), `the origin received ${p} without a PERMIT decision entry; sequence ${JSON.stringify(all)} spread=${spread}`);
          assert.ok(!/\/(deny|open\/[^/]*%2F|.*\.\.;)/i.test(p), `a refused path reached the origin: ${p}`);
        }
        // Each path reaches the origin at most once: no request is replayed by a splice.
        assert.equal(new Set(seen).size, seen.length, `a path reached the origin twice: ${JSON.stringify(seen)}`);
      },
    ), { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) });
  });
});
