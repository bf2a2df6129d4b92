/**
 * The receipt log's signing thread: Ed25519 signatures are the largest single CPU cost of a
 * request, so a batch's lines are formed and signed here, off the event loop that serves
 * requests. It holds the receipt key (handed over by the log at start) and nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { chainLines, type ChainJob } from './chain-lines.js';
import { createReceiptSigner } from './receipt-codec.js';

const signer = createReceiptSigner((workerData as { privateJwk: JsonWebKey & { kid?: string } }).privateJwk);

parentPort!.on('message', (m: { job: number } & ChainJob) => {
  try {
    parentPort!.postMessage({ job: m.job, ...chainLines(signer, m) });
  } catch (e) {
    parentPort!.postMessage({ job: m.job, error: (e as Error).message });
  }
});
