/**
 * Where the receipt log's LogWriter runs: on its own thread (the gate) or inline on the caller's
 * (tests and tools). Either way a job's promise settles with the writer's CommitResult, in
 * submission order. A writer thread that dies fails the jobs it held — the log turns that into
 * RECEIPT_UNAVAILABLE, so nothing is forwarded — and the next job starts a new thread from the
 * last state a result reported, marked dirty so a half-written batch is cut before writing.
 */
import { Worker } from 'node:worker_threads';
import { LogWriter, type CommitResult, type WriterJob, type WriterOptions, type WriterState } from './log-writer.js';
import { createPrivateKey } from 'node:crypto';
import { privateJwkOf, type ReceiptSigner } from './receipt-codec.js';

export interface WriterPort {
  submit(job: WriterJob): Promise<CommitResult>;
  close(): Promise<void>;
}

/** The private KeyObject of a signer made by createReceiptSigner (what the writer signs checkpoints with). */
export function signingKeyOf(signer: ReceiptSigner) {
  const jwk = privateJwkOf(signer);
  if (!jwk) throw new TypeError('the receipt log needs a signer made by createReceiptSigner');
  return createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, format: 'jwk' });
}

export function inlineWriter(signer: ReceiptSigner, options: WriterOptions, state: WriterState): WriterPort {
  const w = new LogWriter(options, signingKeyOf(signer), state);
  return {
    submit: async (job) => w.commit([job])[0]!,
    close: async () => w.close(),
  };
}

/**
 * The worker module next to this one: `.js` when built; `.ts` when running from source (the
 * tests), where the worker needs the TypeScript loader the main thread was started with.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL: URL = FROM_SOURCE
  ? new URL(`data:text/javascript,${encodeURIComponent(
    `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register();
     await import(${JSON.stringify(new URL('./writer-thread.ts', import.meta.url).href)});`)}`)
  : new URL('./writer-thread.js', import.meta.url);

export function threadWriter(signer: ReceiptSigner, options: WriterOptions, state: WriterState, maxItems: number): WriterPort {
  const jwk = privateJwkOf(signer);
  if (!jwk) throw new TypeError('threadWriter needs a signer made by createReceiptSigner');
  const privateJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d };
  let last: WriterState = { ...state };
  let crashed = false;
  let worker: Worker | undefined;
  let next = 0;
  const waiting = new Map<number, { resolve: (r: CommitResult) => void }>();
  let closing: (() => void) | undefined;
  const failAll = (w: Worker, error: string) => {
    if (worker !== w) return;
    worker = undefined;
    crashed = true;
    for (const p of waiting.values()) p.resolve({ ok: false, error, state: last });
    waiting.clear();
    closing?.();
  };
  const start = (): Worker => {
    const w = new Worker(WORKER_URL, { workerData: { privateJwk, options, state: { ...last, dirty: last.dirty || crashed }, maxItems } });
    w.on('message', (m: { job: number; result: CommitResult }[] | { closed: true }) => {
      if (!Array.isArray(m)) { closing?.(); return; }
      for (const { job, result } of m) {
        const p = waiting.get(job);
        if (!p) continue;
        waiting.delete(job);
        last = result.state;
        p.resolve(result);
      }
      // The writer thread keeps the process alive only while it holds a job.
      if (waiting.size === 0) w.unref();
    });
    w.on('error', (e) => failAll(w, `receipt writer failed: ${e.message}`));
    w.on('exit', (code) => failAll(w, `receipt writer exited (${code})`));
    w.unref();
    return w;
  };
  return {
    submit(job) {
      worker ??= start();
      const id = next++;
      const w = worker;
      return new Promise((resolve) => {
        if (waiting.size === 0) w.ref();
        waiting.set(id, { resolve });
        w.postMessage({ job: id, ...job });
      });
    },
    async close() {
      const w = worker;
      if (!w) return;
      w.ref();
      await new Promise<void>((resolve) => { closing = resolve; w.postMessage({ close: true }); });
      worker = undefined;
      await w.terminate();
    },
  };
}
