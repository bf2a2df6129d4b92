/**
 * Reading the receipt log's lines in order (SPEC §9), shared by the gate (recovery at open, the
 * replay rebuild) and the offline tools. The writer names its files
 * `receipts-<first seq, 12 digits>.jsonl`, so name order is log order. A line is an entry (a
 * JSON object) or a checkpoint line `{"checkpoint":"<note>"}`; dot-files (the lock, the node
 * index under `.tree/`) are never log files.
 */
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const LOG_NAME = /^receipts-(\d{12})\.jsonl$/;
/** Every checkpoint line starts with these bytes (the writer serializes it with JSON.stringify). */
export const CHECKPOINT_PREFIX = '{"checkpoint":';

/** The writer's file name for a file whose first entry has sequence number `seq`. */
export function logFileName(seq: number): string {
  return `receipts-${String(seq).padStart(12, '0')}.jsonl`;
}

/** True for a name the writer gives its files. */
export function isLogFileName(name: string): boolean {
  return LOG_NAME.test(name);
}

/** The first seq a writer's file name says (NaN for another name). */
export function firstSeqOf(file: string): number {
  const m = LOG_NAME.exec(path.basename(file));
  return m ? Number(m[1]) : Number.NaN;
}

/** The writer's own log files in `dir` (absolute paths), oldest first. [] when dir is missing. */
export async function listLogFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => LOG_NAME.test(n)).sort().map((n) => path.resolve(dir, n));
}

/** The checkpoint note of a checkpoint line; undefined for any other line. */
export function checkpointNoteOf(line: string): string | undefined {
  if (!line.startsWith(CHECKPOINT_PREFIX)) return undefined;
  try {
    const v = JSON.parse(line) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const keys = Object.keys(v);
    const note = (v as { checkpoint?: unknown }).checkpoint;
    return keys.length === 1 && typeof note === 'string' ? note : undefined;
  } catch {
    return undefined;
  }
}

/** The checkpoint line of a note: the bytes the writer writes (without the newline). */
export function checkpointLine(note: string): string {
  return JSON.stringify({ checkpoint: note });
}

export interface LogLine {
  file: string;
  /** 1-based line number in its file. */
  lineNo: number;
  /** Byte offset of the line in its file. */
  offset: number;
  /** The line's bytes, without its newline. */
  bytes: Buffer;
  /** False for a last line without "\n" (a torn write). */
  terminated: boolean;
}

/**
 * Every line of `files`, in order, as bytes (nothing is parsed): streamed in 1 MiB chunks, so
 * memory stays flat whatever the log's size.
 */
export async function* readLogLines(files: readonly string[]): AsyncGenerator<LogLine> {
  for (const file of files) {
    let carry: Buffer = Buffer.alloc(0);
    let offset = 0;
    let lineNo = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        lineNo++;
        yield { file, lineNo, offset, bytes: buf.subarray(start, nl), terminated: true };
        offset += nl - start + 1;
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
    }
    if (carry.length > 0) yield { file, lineNo: lineNo + 1, offset, bytes: carry, terminated: false };
  }
}

/**
 * The entries of the writer's log in `dir`, parsed, in log order (checkpoint lines, torn and
 * unparsable lines skipped; nothing is verified): what the gate reads at start, after recovery,
 * to rebuild spent permit jtis.
 */
export async function* readEntries(dir: string): AsyncGenerator<Record<string, unknown>> {
  yield* readFileEntries(await listLogFiles(dir));
}

/** The entries of `files`, parsed, in order (checkpoint lines, torn and unparsable lines skipped; nothing is verified). */
export async function* readFileEntries(files: readonly string[]): AsyncGenerator<Record<string, unknown>> {
  for await (const l of readLogLines(files)) {
    if (!l.terminated || l.bytes.length === 0) continue;
    const text = l.bytes.toString('utf8');
    if (text.startsWith(CHECKPOINT_PREFIX)) continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      continue;
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) yield v as Record<string, unknown>;
  }
}
