/**
 * Signs receipt batches: in a worker thread when the log is given one (the gate), or inline.
 * A worker that fails or dies rejects the batch it held — the log turns that into
 * RECEIPT_UNAVAILABLE, so nothing is forwarded — and the next batch starts a new worker.
 */
import { Worker } from 'node:worker_threads';
import { chainLines, type ChainJob, type ChainResult } from './chain-lines.js';
import { privateJwkOf, type ReceiptSigner } from './receipt-codec.js';

export interface BatchSigner {
  sign(job: ChainJob): Promise<ChainResult>;
  close(): Promise<void>;
}

export function inlineSigner(signer: ReceiptSigner): BatchSigner {
  return { sign: async (job) => chainLines(signer, job), close: async () => undefined };
}

/**
 * The worker module next to this one: `.js` when built; `.ts` when running from source (the
 * tests), where the worker needs the TypeScript loader the main thread was started with.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL: URL = FROM_SOURCE
  ? new URL(`data:text/javascript,${encodeURIComponent(
    `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register();
     await import(${JSON.stringify(new URL('./signing-worker.ts', import.meta.url).href)});`)}`)
  : new URL('./signing-worker.js', import.meta.url);

export function workerSigner(signer: ReceiptSigner): BatchSigner {
  const privateJwk = privateJwkOf(signer);
  if (!privateJwk) throw new TypeError('workerSigner needs a signer made by createReceiptSigner');
  let worker: Worker | undefined;
  let next = 0;
  const waiting = new Map<number, { resolve: (r: ChainResult) => void; reject: (e: Error) => void }>();
  const failAll = (e: Error) => { for (const w of waiting.values()) w.reject(e); waiting.clear(); worker = undefined; };
  const start = (): Worker => {
    const w = new Worker(WORKER_URL, { workerData: { privateJwk } });
    w.on('message', (m: { job: number; error?: string } & Partial<ChainResult>) => {
      const pending = waiting.get(m.job);
      if (!pending) return;
      waiting.delete(m.job);
      if (waiting.size === 0) w.unref();
      if (m.error !== undefined) pending.reject(new Error(`receipt signing failed: ${m.error}`));
      else pending.resolve({ lines: m.lines!, prev: m.prev ?? null });
    });
    w.on('error', (e) => failAll(new Error(`receipt signing worker failed: ${e.message}`)));
    w.on('exit', (code) => { if (worker === w) failAll(new Error(`receipt signing worker exited (${code})`)); });
    // The signing thread keeps the process alive only while a batch is being signed.
    w.unref();
    return w;
  };
  return {
    sign(job) {
      worker ??= start();
      const id = next++;
      return new Promise((resolve, reject) => {
        if (waiting.size === 0) worker!.ref();
        waiting.set(id, { resolve, reject });
        worker!.postMessage({ job: id, ...job });
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
