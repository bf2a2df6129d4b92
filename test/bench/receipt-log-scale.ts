/**
 * How the receipt log's start and proofs scale: `node --import tsx test/bench/receipt-log-scale.ts
 * [--json] [--scan-max M] [N…]` (default 10000 1000000). For each N it writes N decision-sized
 * entries through the log itself (commits of 4096, durability none: real lines, checkpoints and
 * node index, as the writer makes them). Then, with every size's log open, it measures the sizes
 * in turn, 5 rounds (so drift on a shared machine hits all sizes alike; medians): open from the
 * node index, the mean cost of an inclusion proof by seq (random entries) and by id (ids spread
 * over the log), and of a consistency proof from a random size. Last, for N <= M (default
 * 1,000,000: it re-reads every line), open with the index removed. --json prints one
 * `SCALE {…}` line per N for run.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { createReceiptSigner } from '../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../receipts/receipt-log.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const scanAt = args.indexOf('--scan-max');
const scanMax = scanAt >= 0 ? Number(args[scanAt + 1]) : 1_000_000;
const sizes = args.filter((x, i) => !x.startsWith('--') && (scanAt < 0 || i !== scanAt + 1)).map(Number);
const signer = createReceiptSigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
const body = {
  kind: 'decision' as const,
  policy: { version: 'v1', digest: 'x'.repeat(43) },
  request: { method: 'POST', url: 'https://api.example.com/v1/charges', query_sha256: null, body_sha256: 'y'.repeat(43), idempotency_key: null },
  subject: 'agent:billing', surface: 'payments', action: 'charge.create', decision: 'PERMIT', reason: 'PERMIT_VALID', enforced: true,
  permit: { iss: 'https://arbiter.example', kid: 'k1', jti: 'j', sha256: 'z'.repeat(43), exp: 1 },
};
const open = (dir: string) => ReceiptLog.open({ dir, signer, durability: 'none', rotateBytes: 64 * 1024 * 1024, gate: 'bench' });

interface Built { n: number; dir: string; ids: string[]; writeS: number; bytes: number; indexBytes: number }
const built: Built[] = [];
for (const n of sizes.length ? sizes : [10_000, 1_000_000]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receipts-scale-'));
  const log = await open(dir);
  const ids: string[] = [];
  const step = Math.max(1, Math.floor(n / 500));
  const t0 = performance.now();
  for (let done = 0; done < n;) {
    const k = Math.min(4096, n - done);
    const got = await Promise.all(Array.from({ length: k }, () => log.append(body)));
    got.forEach((g, j) => { if ((done + j) % step === 0) ids.push(g.id); });
    done += k;
  }
  const writeS = (performance.now() - t0) / 1000;
  await log.close();
  const bytes = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  const indexBytes = fs.readdirSync(path.join(dir, '.tree')).reduce((a, f) => a + fs.statSync(path.join(dir, '.tree', f)).size, 0);
  built.push({ n, dir, ids, writeS, bytes, indexBytes });
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]!; };
const meanUs = (k: number, f: (i: number) => void) => { const t0 = performance.now(); for (let i = 0; i < k; i++) f(i); return ((performance.now() - t0) * 1000) / k; };
const m = new Map(built.map((b) => [b.n, { openIndexMs: [] as number[], proofUs: [] as number[], proofIdUs: [] as number[], consUs: [] as number[] }]));
for (let round = 0; round < 5; round++) {
  for (const b of built) {
    const r = m.get(b.n)!;
    const t0 = performance.now();
    const log = await open(b.dir);
    r.openIndexMs.push(performance.now() - t0);
    const picks = Array.from({ length: 200 }, () => Math.floor(Math.random() * b.n));
    r.proofUs.push(meanUs(picks.length, (i) => log.proof({ seq: picks[i]! })));
    r.proofIdUs.push(meanUs(b.ids.length, (i) => log.proof({ id: b.ids[i]! })));
    r.consUs.push(meanUs(picks.length, (i) => log.consistency(picks[i]!)));
    await log.close();
  }
}

for (const b of built) {
  const r = m.get(b.n)!;
  let openScanMs: number | undefined;
  if (b.n <= scanMax) {
    fs.rmSync(path.join(b.dir, '.tree'), { recursive: true });
    const t0 = performance.now();
    const log = await open(b.dir);
    openScanMs = performance.now() - t0;
    await log.close();
  }
  fs.rmSync(b.dir, { recursive: true, force: true });
  const out = { n: b.n, logBytes: b.bytes, indexBytes: b.indexBytes, writeS: b.writeS, openIndexMs: median(r.openIndexMs), openScanMs, proofUs: median(r.proofUs), proofIdUs: median(r.proofIdUs), consUs: median(r.consUs) };
  if (json) console.log(`SCALE ${JSON.stringify(out)}`);
  else console.log(`${String(b.n).padStart(9)} entries (${(b.bytes / 1e6).toFixed(1)} MB log, ${(b.indexBytes / 1e6).toFixed(1)} MB index, written in ${b.writeS.toFixed(1)} s): open from the index ${out.openIndexMs.toFixed(1)} ms, by re-reading ${openScanMs?.toFixed(0) ?? '—'} ms; proof by seq ${out.proofUs.toFixed(0)} µs, by id ${out.proofIdUs.toFixed(0)} µs, consistency ${out.consUs.toFixed(0)} µs (medians of 5 interleaved rounds)`);
}
