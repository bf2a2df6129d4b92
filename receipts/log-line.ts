/**
 * What one line of a receipt log is (SPEC §9): an entry (a JSON object, one receipt) or a
 * checkpoint line (`{"checkpoint": "<signed note>"}`). Readers judge a line only by its bytes;
 * whether it belongs where it stands (seq, tree, signature) is verify-log's business.
 */

/** decision, outcome, lifecycle: a gate's log; issuance: an arbiter's (SPEC §12). */
export const ENTRY_KINDS = ['decision', 'outcome', 'lifecycle', 'issuance'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** One receipt as read back: the fields every entry has, and those of its kind. */
export interface LogEntry {
  v: 2;
  id: string;
  seq: number;
  /** RFC 3339 text as the writer writes it (a number is read too). */
  ts: string | number;
  gate: string;
  kind: EntryKind;
  [field: string]: unknown;
}

export type LogLineKind = { type: 'entry'; entry: LogEntry } | { type: 'checkpoint'; note: string };

export type LogLineErrorCode = 'NOT_JSON' | 'NOT_AN_OBJECT' | 'BAD_CHECKPOINT_LINE' | 'BAD_ENTRY';

/** A line that is neither an entry nor a checkpoint line; `message` says why, for `file:line: reason`. */
export class LogLineError extends Error {
  override name = 'LogLineError';
  constructor(readonly code: LogLineErrorCode, message: string) {
    super(message);
  }
}

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const KINDS: ReadonlySet<string> = new Set(ENTRY_KINDS);

/** Why `o` is not a v2 entry, or undefined when it is one. */
function entryFault(o: Record<string, unknown>): string | undefined {
  if (o.v !== 2) return `v ${JSON.stringify(o.v)}, expected 2`;
  if (typeof o.id !== 'string' || !UUIDV7.test(o.id)) return `id ${JSON.stringify(o.id)} is not a UUIDv7`;
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0) return `seq ${JSON.stringify(o.seq)} is not a non-negative integer`;
  if (typeof o.ts !== 'string' && typeof o.ts !== 'number') return `ts ${JSON.stringify(o.ts)} is not a time`;
  if (typeof o.gate !== 'string') return `gate ${JSON.stringify(o.gate)} is not a string`;
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return `kind ${JSON.stringify(o.kind)} is not decision, outcome, lifecycle or issuance`;
  return undefined;
}

/**
 * Classifies one line (its bytes without the newline). Throws LogLineError for anything else:
 * not JSON, not an object, a `checkpoint` key beside others or not a string, or an object that
 * lacks what every entry has.
 */
export function parseLogLine(bytes: Buffer | string): LogLineKind {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new LogLineError('NOT_JSON', 'not a JSON line (neither an entry nor a checkpoint line)');
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new LogLineError('NOT_AN_OBJECT', 'not a JSON object');
  const rec = o as Record<string, unknown>;
  if ('checkpoint' in rec) {
    if (typeof rec.checkpoint !== 'string' || Object.keys(rec).length !== 1) {
      throw new LogLineError('BAD_CHECKPOINT_LINE', 'a checkpoint line is {"checkpoint": "<note>"} and nothing else');
    }
    return { type: 'checkpoint', note: rec.checkpoint };
  }
  const fault = entryFault(rec);
  if (fault) throw new LogLineError('BAD_ENTRY', fault);
  return { type: 'entry', entry: rec as LogEntry };
}
