/**
 * Forms the entry lines of a commit (SPEC §9): each entry starts with the log's own fields
 * (`v, id, seq, ts, gate`) and continues with the caller's body, already serialized, so every
 * entry is serialized exactly once and its bytes are the Merkle leaf. Pure; run on the main
 * thread or the receipt writer thread (writer-thread.ts) — the bytes are the same.
 */

export const ENTRY_VERSION = 2;

export interface EntryJob {
  seq: number;
  ts: string;
  gate: string;
  items: { id: string; bodyJson: string }[];
}

export function entryLines(job: EntryJob): string[] {
  const lines: string[] = [];
  let seq = job.seq;
  const head = `,"ts":${JSON.stringify(job.ts)},"gate":${JSON.stringify(job.gate)}`;
  for (const item of job.items) {
    // Identical to JSON.stringify({ v: 2, id, seq, ts, gate, ...body }): the body's own object
    // text is spliced in after the log's fields.
    const body = item.bodyJson.length > 2 ? `,${item.bodyJson.slice(1, -1)}` : '';
    lines.push(`{"v":${ENTRY_VERSION},"id":${JSON.stringify(item.id)},"seq":${seq}${head}${body}}`);
    seq++;
  }
  return lines;
}
