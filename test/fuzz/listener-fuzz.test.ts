/**
 * Raw-socket fuzz of the proxy listener (issue 6): seeded, reproducible hostile inputs over
 * many kept-alive and fresh connections in parallel. Every input is aimed at a route that can
 * never forward without a bug (deny, permit without a valid permit, or unmatched), and the
 * origin behind every such route counts what reaches it. The gate must answer or close for
 * every input, never crash, and never forward.
 *
 *   EGRESS_FUZZ_SEED=<n>     the seed (default below; printed at start)
 *   EGRESS_FUZZ_INPUTS=<n>   how many inputs (default 100000)
 *   EGRESS_FUZZ_WORKERS=<n>  parallel clients (default 48)
 *
 * A failure prints the input number and its bytes (JSON); fuzzInput(seed, i, port) rebuilds it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { adminGet, startGate, workspace, type GateProcess, type GateWorkspace } from '../integration/harness.js';
import { countingOrigin, type CountingOrigin } from '../integration/network/raw-http.js';
import { fuzzInput } from './request-generator.js';
import { KeptConnection, oneShot, type Outcome } from './fuzz-client.js';

const SEED = Number(process.env.EGRESS_FUZZ_SEED ?? 0x5eed6);
const INPUTS = Number(process.env.EGRESS_FUZZ_INPUTS ?? 100_000);
const WORKERS = Number(process.env.EGRESS_FUZZ_WORKERS ?? 48);
/** Longer than header_timeout (2s): a gate that neither answers nor closes by then has hung. */
const DEADLINE_MS = 6000;

describe('fuzz: the proxy listener under hostile bytes', () => {
  let origin: CountingOrigin;
  let ws: GateWorkspace;
  let gate: GateProcess;

  before(async () => {
    origin = await countingOrigin('127.0.0.1');
    const any = { port: '*', method: '*', path: '/**' };
    ws = await workspace({
      routes: { routes: [
        { surface: 'fuzz', action: 'deny', match: { host: 'deny.it', ...any }, authorize: 'deny' },
        { surface: 'fuzz', action: 'permit', match: { host: 'permit.it', ...any }, authorize: 'permit' },
      ] },
      config: (c) => {
        c.receipts.durability = 'none';
        c.limits = { upstream_timeout: '2s', header_timeout: '2s' };
        // block_private off and every name on the origin: a forwarding bug would reach it.
        c.network = { block_private: false, hosts: { 'deny.it': '127.0.0.1', 'permit.it': '127.0.0.1', 'other.it': '127.0.0.1' } };
      },
    });
    gate = await startGate(ws);
  });
  after(async () => {
    await gate?.stop();
    await origin?.close();
    if (ws) fs.rmSync(ws.dir, { recursive: true, force: true });
  });

  it(`${INPUTS} inputs: always answered or closed, no crash, nothing forwarded`, { timeout: 15 * 60_000 }, async () => {
    const P = origin.port;
    console.log(`# fuzz seed ${SEED} (EGRESS_FUZZ_SEED=${SEED}), ${INPUTS} inputs, ${WORKERS} clients`);
    const counts: Record<string, number> = {};
    let failure: { i: number; why: string } | undefined;
    let next = 0;
    const fail = (i: number, why: string) => { failure ??= { i, why }; };
    const tally = (o: Outcome) => { const k = o.kind === 'answer' ? `answer ${o.status}` : o.kind; counts[k] = (counts[k] ?? 0) + 1; };
    const t0 = Date.now();

    const worker = async (w: number) => {
      let conn: KeptConnection | undefined;
      let reuse = 0;
      while (!failure) {
        const i = next++;
        if (i >= INPUTS) break;
        const input = fuzzInput(SEED, i, P);
        let out: Outcome;
        if (input.wellFormed) {
          // Kept-alive connections serve a run of inputs; a fresh one starts every ~20.
          if (!conn || conn.closed || ++reuse % 20 === 0) { conn?.destroy(); conn = await KeptConnection.open(ws.listenPort); }
          out = await conn.exchange(input.bytes, DEADLINE_MS);
        } else {
          out = await oneShot(ws.listenPort, input.bytes, DEADLINE_MS);
        }
        tally(out);
        if (out.kind === 'hang') fail(i, `neither answered nor closed within ${DEADLINE_MS} ms (worker ${w})`);
        if (out.kind === 'answer' && (out.decision === 'PERMIT' || /egress-decision: PERMIT|origin 127/i.test(out.text))) fail(i, `forwarded: ${out.text.slice(0, 200)}`);
        if (origin.hits.length > 0) fail(i, `the origin saw ${JSON.stringify(origin.hits)}`);
        if (gate.proc.exitCode !== null) fail(i, `the gate exited (${gate.proc.exitCode})`);
      }
      conn?.destroy();
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    const secs = (Date.now() - t0) / 1000;
    console.log(`# fuzz: ${Math.min(next, INPUTS)} inputs in ${secs.toFixed(1)} s = ${Math.round(Math.min(next, INPUTS) / secs)} inputs/s`);
    console.log(`# fuzz outcomes: ${JSON.stringify(counts)}`);
    if (failure) {
      console.log(`# fuzz FAILED at input ${failure.i} (seed ${SEED}): ${failure.why}`);
      console.log(`# reproduce: fuzzInput(${SEED}, ${failure.i}, ${P}) = ${JSON.stringify(fuzzInput(SEED, failure.i, P).bytes.toString('latin1'))}`);
    }
    assert.equal(failure, undefined);
    assert.deepEqual(origin.hits, []);
    assert.equal(gate.proc.exitCode, null, 'the gate is alive');
    assert.equal((await adminGet(ws.adminPort, '/healthz')).status, 200);
    const metrics = (await adminGet(ws.adminPort, '/metrics')).text;
    assert.doesNotMatch(metrics, /egress_gate_decisions_total\{decision="PERMIT"/, 'no PERMIT was ever decided');
    const internal = /egress_gate_decisions_total\{[^}]*reason="INTERNAL_ERROR"[^}]*\} (\d+)/.exec(metrics);
    assert.equal(internal, null, `INTERNAL_ERROR decisions: ${internal?.[0]}`);
  });
});
