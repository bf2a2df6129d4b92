/**
 * The console's view of the receipt log on disk: the decisions before a given seq (the live
 * list's "older ones"), and one decision with its outcome entries. Files are read newest
 * first and each is streamed (receipts/log-lines.ts), so a request for the newest N reads
 * only the files that hold them; a torn last line (a commit being written) is skipped.
 *
 * What leaves here is what the console may show: an entry's `request.idempotency_key` (a
 * header value) is replaced by whether there was one; there are no queries, bodies or
 * tokens in entries to begin with (SPEC §9).
 */
import { firstSeqOf, listLogFiles, readFileEntries } from '../../../receipts/log-lines.js';

export type Entry = Record<string, unknown>;

/** One decision as the live list shows it (the stream's fields, from the log), with its outcome if any. */
export interface HistoryRow {
  type: 'decision';
  ts: string;
  seq: number;
  receipt: string;
  method: string | null;
  url: string | null;
  jsonrpc: { method: string; tool: string | null } | null;
  surface: string | null;
  action: string | null;
  decision: string;
  reason: string;
  enforced: boolean;
  outcome: { status: unknown; bytes_up: unknown; bytes_down: unknown; ms: unknown; error: unknown } | null;
}

/** An entry as the console may show it: the idempotency key's value is left out. */
export function shownEntry(e: Entry): Entry {
  const req = e.request as Record<string, unknown> | null | undefined;
  if (!req || typeof req !== 'object' || !('idempotency_key' in req)) return e;
  return { ...e, request: { ...req, idempotency_key: req.idempotency_key == null ? null : '(present, not shown)' } };
}

function rowOf(e: Entry, outcome: Entry | undefined): HistoryRow {
  const req = (e.request ?? {}) as Record<string, unknown>;
  return {
    type: 'decision', ts: String(e.ts), seq: Number(e.seq), receipt: String(e.id),
    method: (req.method as string | null) ?? null, url: (req.url as string | null) ?? null,
    jsonrpc: (e.jsonrpc as HistoryRow['jsonrpc'] | undefined) ?? null,
    surface: (e.surface as string | null) ?? null, action: (e.action as string | null) ?? null,
    decision: String(e.decision), reason: String(e.reason), enforced: e.enforced === true,
    outcome: outcome ? { status: outcome.status, bytes_up: outcome.bytes_up, bytes_down: outcome.bytes_down, ms: outcome.duration_ms, error: outcome.error } : null,
  };
}

/** The newest `limit` decisions with seq below `before` (all when undefined), newest first. */
export async function decisionsBefore(dir: string, before: number | undefined, limit: number): Promise<HistoryRow[]> {
  const files = (await listLogFiles(dir)).filter((f) => before === undefined || firstSeqOf(f) < before).reverse();
  const out: HistoryRow[] = [];
  // Outcomes come after their decisions: those seen in newer files wait here for theirs.
  const outcomes = new Map<string, Entry>();
  for (const file of files) {
    const found: Entry[] = [];
    for await (const e of readFileEntries([file])) {
      if (e.kind === 'outcome' && typeof e.of === 'string') outcomes.set(e.of, e);
      else if (e.kind === 'decision' && (before === undefined || Number(e.seq) < before)) found.push(e);
    }
    for (let i = found.length - 1; i >= 0 && out.length < limit; i--) {
      const e = found[i] as Entry;
      out.push(rowOf(e, outcomes.get(String(e.id))));
    }
    if (out.length >= limit) break;
  }
  return out;
}

/** One decision entry by id with its outcome entries, or undefined when the log has none. */
export async function decisionById(dir: string, id: string): Promise<{ entry: Entry; outcomes: Entry[] } | undefined> {
  const outcomes: Entry[] = [];
  for (const file of (await listLogFiles(dir)).reverse()) {
    let entry: Entry | undefined;
    for await (const e of readFileEntries([file])) {
      if (e.id === id && e.kind === 'decision') entry = e;
      else if (e.kind === 'outcome' && e.of === id) outcomes.push(e);
    }
    if (entry) return { entry: shownEntry(entry), outcomes };
  }
  return undefined;
}
