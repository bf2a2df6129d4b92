/**
 * How the receipt log's start and proofs scale: `node --import tsx test/bench/receipt-log-scale.ts [N…]`
 * (default 10000 1000000). For each N it writes N decision-sized entries (commits of 4096,
 * durability none), then measures: open from the node index, open by re-reading every file
 * (the index removed), and the mean cost of an inclusion proof by seq and by id, and of a
 * consistency proof, over 500 random entries.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { createReceiptSigner } from '../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../receipts/receipt-log.js';

const sizes = process.argv.slice(2).map(Number);
const signer = createReceiptSigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
const body = {
  kind: 'decision' as const,
  policy: { version: 'v1', digest: 'x'.repeat(43) },
  request: { method: 'POST', url: 'https://api.example.com/v1/charges', query_sha256: null, body_sha256: 'y'.repeat(43), idempotency_key: null },
  subject: 'agent:billing', surface: 'payments', action: 'charge.create', decision: 'PERMIT', reason: 'PERMIT_VALID', enforced: true,
  permit: { iss: 'https://arbiter.example', kid: 'k1', jti: 'j', sha256: 'z'.repeat(43), exp: 1 },
};
const open = (dir: string) => ReceiptLog.open({ dir, signer, durability: 'none', rotateBytes: 64 * 1024 * 1024, gate: 'bench' });

for (const n of sizes.length ? sizes : [10_000, 1_000_000]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receipts-scale-'));
  let log = await open(dir);
  const ids: string[] = [];
  let t0 = performance.now();
  for (let done = 0; done < n;) {
    const k = Math.min(4096, n - done);
    const got = await Promise.all(Array.from({ length: k }, () => log.append(body)));
    if (ids.length < 500) ids.push(...got.slice(0, 500 - ids.length).map((g) => g.id));
    done += k;
  }
  const writeS = (performance.now() - t0) / 1000;
  await log.close();
  const bytes = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
  const indexBytes = fs.readdirSync(path.join(dir, '.tree')).reduce((a, f) => a + fs.statSync(path.join(dir, '.tree', f)).size, 0);

  t0 = performance.now();
  log = await open(dir);
  const openIndexMs = performance.now() - t0;
  const via1 = log.openedVia;
  const picks = Array.from({ length: 500 }, () => Math.floor(Math.random() * n));
  t0 = performance.now();
  for (const s of picks) log.proof({ seq: s });
  const proofUs = ((performance.now() - t0) * 1000) / picks.length;
  // Ids spread over the log: every k-th entry's id, found by reading it.
  t0 = performance.now();
  for (const id of ids) log.proof({ id });
  const proofIdUs = ((performance.now() - t0) * 1000) / ids.length;
  t0 = performance.now();
  for (const s of picks) log.consistency(s);
  const consUs = ((performance.now() - t0) * 1000) / picks.length;
  await log.close();

  fs.rmSync(path.join(dir, '.tree'), { recursive: true });
  t0 = performance.now();
  log = await open(dir);
  const openScanMs = performance.now() - t0;
  const via2 = log.openedVia;
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`${String(n).padStart(9)} entries (${(bytes / 1e6).toFixed(1)} MB log, ${(indexBytes / 1e6).toFixed(1)} MB index, written in ${writeS.toFixed(1)} s): open ${via1} ${openIndexMs.toFixed(1)} ms, open ${via2} ${openScanMs.toFixed(0)} ms; proof by seq ${proofUs.toFixed(0)} µs, by id ${proofIdUs.toFixed(0)} µs, consistency ${consUs.toFixed(0)} µs`);
}
