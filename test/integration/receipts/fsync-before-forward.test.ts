/**
 * A decision receipt is durable before its request leaves (README "Durability", SPEC §9): the
 * gate runs under strace, and for every request there must be an fdatasync (or fsync) of the
 * receipt log that started after the client sent the request and ended before the origin
 * received it. kill -9 cannot show this (the page cache survives a killed process); the
 * syscall trace can.
 *
 * Clocks: strace -ttt prints CLOCK_REALTIME; the test reads the same clock with sub-ms
 * resolution by anchoring performance.now() to a Date.now() millisecond tick right before each
 * request (so no monotonic/realtime drift builds up). No slack is allowed in the wrong
 * direction: start >= sent and start + duration <= arrival, exactly.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { adminGet, BIN, cleanEnv, viaProxy, workspace, type GateWorkspace } from '../harness.js';
import { shownReceipts } from './show.js';

const STRACE = '/usr/bin/strace';

/** CLOCK_REALTIME in ms with sub-ms resolution, anchored to a fresh Date.now() tick. */
function realtimeClock(): () => number {
  const t = Date.now();
  let base = t;
  while (base === t) base = Date.now();
  const p0 = performance.now();
  return () => base + (performance.now() - p0);
}

interface SyncCall { pid: string; call: string; fd: string; startMs: number; endMs: number; result: string }

/**
 * fdatasync/fsync calls from an `strace -f -ttt -T -y` log. With -f a call may be split into
 * `<unfinished ...>` and `<... call resumed>` lines (another thread printed in between): the
 * start is the first line's time, the end the later of start + duration and the resumed line's time.
 */
export function parseStrace(text: string): SyncCall[] {
  const out: SyncCall[] = [];
  const open = new Map<string, { call: string; fd: string; startMs: number }>();
  const whole = /^(\d+)\s+(\d+\.\d+)\s+(fdatasync|fsync)\((.*?)\)\s+=\s+(-?\d+[^<]*?)\s*<(\d+\.\d+)>\s*$/;
  const unfinished = /^(\d+)\s+(\d+\.\d+)\s+(fdatasync|fsync)\((.*?)\s*<unfinished \.\.\.>\s*$/;
  const resumed = /^(\d+)\s+(\d+\.\d+)\s+<\.\.\. (fdatasync|fsync) resumed>.*?\)\s+=\s+(-?\d+[^<]*?)\s*<(\d+\.\d+)>\s*$/;
  for (const line of text.split('\n')) {
    let m = whole.exec(line);
    if (m) {
      const startMs = Number(m[2]) * 1000;
      out.push({ pid: m[1]!, call: m[3]!, fd: m[4]!, startMs, endMs: startMs + Number(m[6]) * 1000, result: m[5]!.trim() });
      continue;
    }
    m = unfinished.exec(line);
    if (m) { open.set(`${m[1]}:${m[3]}`, { call: m[3]!, fd: m[4]!, startMs: Number(m[2]) * 1000 }); continue; }
    m = resumed.exec(line);
    if (m) {
      const key = `${m[1]}:${m[3]}`;
      const o = open.get(key);
      if (!o) continue; // its start was not seen: it cannot prove anything
      open.delete(key);
      out.push({ pid: m[1]!, call: o.call, fd: o.fd, startMs: o.startMs, endMs: Math.max(o.startMs + Number(m[5]) * 1000, Number(m[2]) * 1000), result: m[4]!.trim() });
    }
  }
  return out;
}

describe('parseStrace', () => {
  it('reads whole calls and joins <unfinished ...> with its <... resumed> line of the same thread', () => {
    const calls = parseStrace([
      '101 1700000000.000100 fdatasync(22</r/receipts-0.jsonl>) = 0 <0.000200>',
      '102 1700000000.001000 fdatasync(22</r/receipts-0.jsonl> <unfinished ...>',
      '103 1700000000.001100 fsync(19</r>) = 0 <0.000050>',
      '102 1700000000.001900 <... fdatasync resumed>) = 0 <0.000800>',
      '104 1700000000.002000 <... fsync resumed>) = 0 <0.000100>',
      '101 1700000000.003000 +++ exited with 0 +++',
    ].join('\n'));
    assert.equal(calls.length, 3, 'a resumed line without its start proves nothing and is dropped');
    assert.deepEqual(calls.map((c) => [c.pid, c.call, c.fd, c.result]), [
      ['101', 'fdatasync', '22</r/receipts-0.jsonl>', '0'], ['103', 'fsync', '19</r>', '0'], ['102', 'fdatasync', '22</r/receipts-0.jsonl>', '0'],
    ]);
    const joined = calls[2]!;
    assert.ok(Math.abs(joined.startMs - 1700000000001.0) < 1e-3);
    assert.ok(Math.abs(joined.endMs - 1700000000001.9) < 1e-3, 'the end is the later of start + duration and the resumed line');
  });
});

describe('receipts: the decision receipt is fdatasync\'ed before the request reaches the origin', () => {
  before(() => {
    assert.ok(fs.existsSync(STRACE), `this test needs ${STRACE} (Debian package strace)`);
    const probe = spawnSync(STRACE, ['-f', '-o', '/dev/null', 'true']);
    assert.equal(probe.status, 0, `strace cannot trace here (ptrace refused?): ${String(probe.stderr)}`);
  });

  const arrivals = new Map<string, number>();
  let clock = realtimeClock();
  let origin: http.Server;
  let O: number;
  let ws: GateWorkspace;
  let strace: ChildProcess;
  let straceExit: Promise<number | null>;
  let traceFile: string;
  const output: string[] = [];

  before(async () => {
    origin = http.createServer((req, res) => {
      arrivals.set(req.url ?? '', clock()); // the request head has arrived at the origin
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    });
    O = await new Promise<number>((r) => origin.listen(0, '127.0.0.1', () => r((origin.address() as AddressInfo).port)));
    ws = await workspace({
      routes: { routes: [{ surface: 'public', action: 'read', match: { scheme: 'http', host: 'open.it', port: O, method: 'GET', path: '/f/**' }, authorize: 'none' }] },
    });
    assert.equal(ws.config.receipts.durability, 'fsync');
    traceFile = path.join(ws.dir, 'strace.txt');
    strace = spawn(STRACE, ['-f', '-qq', '-ttt', '-T', '-y', '-e', 'trace=fdatasync,fsync', '-e', 'signal=none', '-o', traceFile,
      process.execPath, BIN, 'start', '--config', ws.configPath], { cwd: ws.dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    strace.stdout!.on('data', (d) => output.push(String(d)));
    strace.stderr!.on('data', (d) => output.push(String(d)));
    straceExit = new Promise((r) => strace.once('exit', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (strace.exitCode !== null) throw new Error(`gate under strace exited at start: ${output.join('')}`);
      try { if ((await adminGet(ws.adminPort, '/readyz')).status === 200) break; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`gate under strace not ready: ${output.join('')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  /** SIGTERM to the gate (strace's child), then strace ends with it and its log is complete. */
  async function stopGate(): Promise<void> {
    if (strace.exitCode !== null) return;
    const children = fs.readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    assert.equal(children.length, 1, `strace has one child, the gate: ${children.join(' ')}`);
    process.kill(Number(children[0]), 'SIGTERM');
    const t = setTimeout(() => strace.kill('SIGKILL'), 15_000);
    await straceExit;
    clearTimeout(t);
  }
  after(async () => {
    if (strace && strace.exitCode === null) await stopGate().catch(() => strace.kill('SIGKILL'));
    await new Promise((r) => origin?.close(r));
  });

  it('every forwarded request: an fdatasync of the receipt log started after it was sent and ended before the origin got it', async () => {
    const N = 6;
    const sent: { url: string; path: string; at: number; receipt: string }[] = [];
    for (let i = 0; i < N; i++) {
      const p = `/f/${i}-${crypto.randomUUID()}`;
      const url = `http://open.it:${O}${p}`;
      clock = realtimeClock();
      const at = clock();
      const a = await viaProxy(ws.listenPort, url);
      assert.equal(a.status, 200, a.text);
      assert.equal(a.headers['egress-decision'], 'PERMIT');
      const receipt = String(a.headers['egress-receipt']);
      sent.push({ url, path: p, at, receipt });
      // The previous request's outcome receipt (and its fdatasync) must be done before the next
      // request is sent, or its fdatasync could be counted for the next one.
      for (let k = 0; ; k++) {
        if (shownReceipts(ws.receiptsDir).some((r) => r.kind === 'outcome' && r.of === receipt)) break;
        assert.ok(k < 100, `no outcome receipt for ${receipt}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await stopGate();

    const receipts = shownReceipts(ws.receiptsDir);
    for (const s of sent) {
      const rec = receipts.find((r) => r.id === s.receipt);
      assert.equal(rec?.kind, 'decision');
      assert.equal(rec?.decision, 'PERMIT');
      assert.equal(rec?.reason, 'NO_PERMIT_REQUIRED');
      assert.equal(rec?.request?.url, s.url);
    }

    const calls = parseStrace(fs.readFileSync(traceFile, 'utf8'));
    const onLog = calls.filter((c) => c.fd.includes(`${ws.receiptsDir}/`) && c.result === '0');
    for (const s of sent) {
      const arrived = arrivals.get(s.path);
      assert.ok(arrived !== undefined, `the origin never got ${s.path}`);
      assert.ok(arrived > s.at);
      const inWindow = onLog.filter((c) => c.startMs >= s.at && c.endMs <= arrived);
      const near = onLog.filter((c) => c.endMs > s.at - 50 && c.startMs < arrived + 50)
        .map((c) => `${c.call} start ${(c.startMs - s.at).toFixed(3)} ms, end ${(c.endMs - s.at).toFixed(3)} ms`);
      assert.ok(inWindow.length >= 1,
        `${s.path}: no fdatasync of a log file in ${ws.receiptsDir} (of ${calls.length} sync calls traced) between the send (0 ms) and the origin's arrival (${(arrived - s.at).toFixed(3)} ms); nearby: ${near.join('; ') || 'none'}`);
    }
  });
});
