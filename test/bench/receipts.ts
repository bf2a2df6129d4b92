/**
 * Receipts throughput: `node --import tsx test/bench/receipts.ts [seconds-per-case]`.
 * Prints receipts/s and fsyncs (= commits = checkpoints) for group commit (fsync) at concurrency
 * 1 and 64, and for durability none, plus the raw cost of sealing (a leaf hash per entry, one
 * checkpoint signature per commit), with the log writing on its own thread as the gate does.
 * Writes to a temp folder on the os.tmpdir() disk.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { createReceiptSigner } from '../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../receipts/receipt-log.js';
import { signingKeyOf } from '../../receipts/writer-host.js';
import { leafHash } from '../../receipts/tlog/merkle.js';
import { signCheckpoint } from '../../receipts/tlog/checkpoint.js';

const seconds = Number(process.argv[2] ?? 3);
const signer = createReceiptSigner(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }));
const body = {
  kind: 'decision' as const,
  policy: { version: 'v1', digest: 'x'.repeat(43) },
  request: { method: 'POST', url: 'https://api.example.com/v1/charges', query_sha256: null, body_sha256: 'y'.repeat(43), idempotency_key: null },
  subject: 'agent:billing', surface: 'payments', action: 'charge.create', decision: 'PERMIT', reason: 'PERMIT_VALID', enforced: true,
  permit: { iss: 'https://arbiter.example', kid: 'k1', jti: 'j', sha256: 'z'.repeat(43), exp: 1 },
};

async function run(durability: 'fsync' | 'none', concurrency: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receipts-bench-'));
  let fsyncs = 0;
  let fsyncTime = 0;
  const log = await ReceiptLog.open({ dir, signer, durability, rotateBytes: 64 * 1024 * 1024, gate: 'bench', ownThread: true, onFsync: (s) => { fsyncs++; fsyncTime += s; } });
  let count = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      await log.append(body);
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const avgFsync = fsyncs ? ` avg fsync ${((fsyncTime / fsyncs) * 1000).toFixed(2)} ms,` : '';
  console.log(`${durability.padEnd(5)} concurrency ${String(concurrency).padStart(3)}: ${Math.round(count / elapsed).toString().padStart(7)} receipts/s,${avgFsync} ${fsyncs} fsyncs for ${count} receipts`);
}

function signOnly(): void {
  const n = 20_000;
  const line = Buffer.from(JSON.stringify({ v: 2, id: '01a216e1-59a8-74de-90d3-fbb0325845f7', seq: 1, ts: '2025-01-01T00:00:00.000Z', gate: 'bench', ...body }));
  let t0 = performance.now();
  for (let i = 0; i < n; i++) leafHash(line);
  const hashUs = ((performance.now() - t0) * 1000) / n;
  const key = signingKeyOf(signer);
  const root = leafHash(line);
  t0 = performance.now();
  for (let i = 0; i < n / 4; i++) signCheckpoint({ origin: 'egress-gate/bench', size: i, root }, 'egress-gate/bench', key);
  const signUs = ((performance.now() - t0) * 1000) / (n / 4);
  console.log(`seal only: leaf hash ${hashUs.toFixed(2)} µs/entry, checkpoint signature ${signUs.toFixed(1)} µs/commit`);
}

signOnly();
await run('fsync', 1);
await run('fsync', 64);
await run('none', 1);
await run('none', 64);
