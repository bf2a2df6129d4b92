/**
 * `egress-gate receipts show [--follow] [--tail N] [--since …] [--decision D] [--surface S]
 * [--format pretty|json] PATH…` (SPEC §2): the entries of a receipt log, one a line, in log
 * order; checkpoint lines are not printed. Nothing is verified here; that is `receipts verify`.
 * `json` prints each entry line verbatim (it is the evidence, byte for byte); `pretty`, the
 * default on a terminal, one readable line. A line that is not an entry is shown as
 * `{file, line, error}` (json) or `file:line: error` (pretty), whatever the filters.
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { LogLineError, parseLogLine, type LogEntry } from '../../receipts/log-line.js';
import { tailReceiptLines, type TailedLine } from '../../receipts/tail-receipts.js';
import { UsageError, type Command } from './command.js';

const usage = `usage: egress-gate receipts show [--follow] [--tail N] [--since DURATION|RFC3339] [--decision PERMIT|DENY|SILENCE] [--surface S] [--format pretty|json] PATH…
  Prints the entries of a receipt log in log order, one a line (checkpoint lines are not
  printed). PATH: the receipts folder or its files.
  --follow          keep printing new entries as they are written, into rotated files too
                    (until interrupted)
  --tail N          start with the last N matching entries (lines that are no entry are
                    always shown)
  --since T         only entries from T on: a duration back from now (90s, 15m, 2h, 7d) or
                    an RFC 3339 time
  --decision D      only decision entries with that decision
  --surface S       only entries of that surface
  --format F        json: each entry line verbatim; pretty: one readable line (time, kind,
                    decision and reason, method and url, surface/action, id). Default:
                    pretty on a terminal, json otherwise`;

export interface ShowFilter {
  sinceMs?: number;
  decision?: string;
  surface?: string;
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from `now`, or an RFC 3339 time; epoch milliseconds. */
export function parseSince(text: string, now = Date.now()): number {
  const d = DURATION.exec(text);
  if (d) return now - Number(d[1]) * UNIT_MS[d[2]!]!;
  if (/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new UsageError(`--since ${text} is neither a duration (90s, 15m, 2h, 7d) nor an RFC 3339 time`);
}

function tsMs(ts: unknown): number {
  return typeof ts === 'number' ? ts : typeof ts === 'string' ? Date.parse(ts) : Number.NaN;
}

/** True when `e` passes the filters. */
export function matches(e: LogEntry, f: ShowFilter): boolean {
  if (f.decision !== undefined && (e.kind !== 'decision' || e.decision !== f.decision)) return false;
  if (f.surface !== undefined && e.surface !== f.surface) return false;
  if (f.sinceMs !== undefined && !(tsMs(e.ts) >= f.sinceMs)) return false;
  return true;
}

const str = (v: unknown): string => (v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/** The one readable line of `--format pretty`. */
export function prettyEntry(e: LogEntry): string {
  const ts = typeof e.ts === 'number' ? new Date(e.ts).toISOString() : e.ts;
  const head = `${ts} #${e.seq} ${e.kind.padEnd(9)}`;
  switch (e.kind) {
    case 'decision': {
      const req = (e.request ?? {}) as { method?: unknown; url?: unknown };
      const report = e.enforced === false ? ' (report only)' : '';
      return `${head} ${str(e.decision)} ${str(e.reason)}${report} ${str(req.method)} ${str(req.url)} ${str(e.surface)}/${str(e.action)} ${e.id}`;
    }
    case 'outcome': {
      const result = e.error !== undefined && e.error !== null ? `error ${str(e.error)}` : `status ${str(e.status)}`;
      return `${head} ${result} up ${str(e.bytes_up)}B down ${str(e.bytes_down)}B ${str(e.duration_ms)}ms of ${str(e.of)} ${e.id}`;
    }
    case 'lifecycle':
      return `${head} ${str(e.event)} ${e.id}`;
    case 'issuance':
      return `${head} ${str(e.decision)} ${str(e.reason)} ${str(e.subject)} ${str(e.surface)}/${str(e.action)} ${e.id}`;
    default: {
      const never: never = e.kind;
      return `${head} ${String(never)}`;
    }
  }
}

type Shown = { print: string; error: boolean } | undefined;

/** What `receipts show` prints for one line, or undefined for a line it skips. */
export function showLine(t: TailedLine, format: 'pretty' | 'json', filter: ShowFilter = {}): Shown {
  let parsed;
  try {
    parsed = parseLogLine(t.line);
  } catch (e) {
    if (!(e instanceof LogLineError)) throw e;
    return { print: format === 'json' ? JSON.stringify({ file: t.file, line: t.lineNo, error: e.message }) : `${t.file}:${t.lineNo}: ${e.message}`, error: true };
  }
  if (parsed.type === 'checkpoint' || !matches(parsed.entry, filter)) return undefined;
  return { print: format === 'json' ? t.line : prettyEntry(parsed.entry), error: false };
}

export const command: Command = {
  name: 'receipts show',
  summary: 'print receipt entries, one a line (filters, --follow, --tail)',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        follow: { type: 'boolean', short: 'f' },
        tail: { type: 'string' },
        since: { type: 'string' },
        decision: { type: 'string' },
        surface: { type: 'string' },
        format: { type: 'string' },
      },
    });
    if (positionals.length === 0) throw new UsageError('no PATH given');
    const format = values.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
    if (format !== 'pretty' && format !== 'json') throw new UsageError(`--format ${format}: pretty or json`);
    if (values.decision !== undefined && !['PERMIT', 'DENY', 'SILENCE'].includes(values.decision)) {
      throw new UsageError(`--decision ${values.decision}: PERMIT, DENY or SILENCE`);
    }
    if (values.tail !== undefined && !/^(0|[1-9][0-9]*)$/.test(values.tail)) throw new UsageError(`--tail ${values.tail} is not a number of entries`);
    const filter: ShowFilter = {
      ...(values.since !== undefined ? { sinceMs: parseSince(values.since) } : {}),
      ...(values.decision !== undefined ? { decision: values.decision } : {}),
      ...(values.surface !== undefined ? { surface: values.surface } : {}),
    };
    const tail = values.tail === undefined ? undefined : Number(values.tail);
    // --tail: what existed at the start is held back, keeping only the last N entries (and
    // every bad line: those are never dropped), until caught up.
    let held: NonNullable<Shown>[] | undefined = tail === undefined ? undefined : [];
    let heldEntries = 0;
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // A reader that went away (`| head`) ends the command quietly, as for other line tools.
    process.stdout.on('error', stop);
    const write = async (text: string): Promise<void> => {
      if (!process.stdout.write(`${text}\n`)) await once(process.stdout, 'drain', { signal: ac.signal }).catch(() => undefined);
    };
    const flushHeld = (): void => {
      if (!held) return;
      for (const h of held) process.stdout.write(`${h.print}\n`);
      held = undefined;
    };
    try {
      for await (const t of tailReceiptLines(positionals, { follow: values.follow === true, signal: ac.signal, onCaughtUp: flushHeld })) {
        if (ac.signal.aborted) break;
        const shown = showLine(t, format, filter);
        if (!shown) continue;
        if (held) {
          held.push(shown);
          if (!shown.error && ++heldEntries > tail!) {
            held.splice(held.findIndex((h) => !h.error), 1);
            heldEntries--;
          }
        } else {
          await write(shown.print);
        }
      }
      flushHeld();
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return 0;
  },
};
