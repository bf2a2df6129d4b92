/**
 * The receipt writer's thread: it owns the open log file, the node index and the receipt key,
 * and runs LogWriter commits back to back. Jobs that arrive while a commit is being sealed, written and
 * fdatasync'ed are merged into the next commit (group commit), so one checkpoint signature and
 * one fsync cover them all.
 * Synchronous file calls are fine here — this thread does nothing else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPrivateKey } from 'node:crypto';
import { LogWriter, type WriterJob, type WriterOptions, type WriterState } from './log-writer.js';

type Msg = ({ job: number } & WriterJob) | { close: true };

const init = workerData as { privateJwk: JsonWebKey; options: WriterOptions; state: WriterState; maxItems: number };
const writer = new LogWriter(init.options, createPrivateKey({ key: init.privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' }), init.state);
const queue: ({ job: number } & WriterJob)[] = [];
let scheduled = false;

function drain(): void {
  scheduled = false;
  while (queue.length > 0) {
    const jobs = [queue.shift()!];
    let n = jobs[0]!.items.length;
    while (queue.length > 0 && n + queue[0]!.items.length <= init.maxItems) {
      n += queue[0]!.items.length;
      jobs.push(queue.shift()!);
    }
    const results = writer.commit(jobs);
    parentPort!.postMessage(jobs.map((j, i) => ({ job: j.job, result: results[i] })));
  }
}

parentPort!.on('message', (m: Msg) => {
  if ('close' in m) {
    drain();
    writer.close();
    parentPort!.postMessage({ closed: true });
    return;
  }
  queue.push(m);
  // Let every message already delivered join this commit before it starts.
  if (!scheduled) { scheduled = true; setImmediate(drain); }
});
