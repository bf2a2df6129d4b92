/**
 * Forms a batch of chained receipt lines: each line's payload starts with the log's own
 * fields (`v, id, seq, prev, ts, gate`) and continues with the caller's body, already
 * serialized; `prev` of each line is the hash of the line before it. Pure; run either on the
 * main thread or on the receipt writer thread (writer-thread.ts) — the bytes are the same.
 */
import { lineHash, type ReceiptSigner } from './receipt-codec.js';

export interface ChainJob {
  seq: number;
  prev: string | null;
  ts: string;
  gate: string;
  items: { id: string; bodyJson: string }[];
}

export interface ChainResult {
  lines: string[];
  /** Hash of the last line: the next batch's `prev`. */
  prev: string | null;
}

export function chainLines(signer: Pick<ReceiptSigner, 'signJson'>, job: ChainJob): ChainResult {
  const lines: string[] = [];
  let prev = job.prev;
  let seq = job.seq;
  const head = `,"ts":${JSON.stringify(job.ts)},"gate":${JSON.stringify(job.gate)}`;
  for (const item of job.items) {
    // Identical to JSON.stringify({ v: 1, id, seq, prev, ts, gate, ...body }): the body's own
    // object text is spliced in after the log's fields.
    const body = item.bodyJson.length > 2 ? `,${item.bodyJson.slice(1, -1)}` : '';
    const line = signer.signJson(`{"v":1,"id":${JSON.stringify(item.id)},"seq":${seq},"prev":${prev === null ? 'null' : JSON.stringify(prev)}${head}${body}}`);
    lines.push(line);
    prev = lineHash(line);
    seq++;
  }
  return { lines, prev };
}
