/**
 * Reading receipt log lines as they are written, for `receipts show [--follow]`. Complete
 * lines only ("\n"-terminated): a commit being written is seen once it is whole. Files are
 * read in name order, and a followed folder is re-listed on each poll, so reading continues
 * into files created by rotation. Lines are handed over as text, unjudged: entries and
 * checkpoint lines alike (see log-line.ts).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { listReceiptFiles } from './receipt-files.js';

export interface TailedLine {
  file: string;
  /** 1-based line number within the file. */
  lineNo: number;
  line: string;
}

export interface TailOptions {
  /** Keep polling for new lines and files until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
  /** Called once, after the lines that existed at the start have all been yielded. */
  onCaughtUp?: () => void;
}

interface Cursor {
  offset: number;
  lineNo: number;
  /** Bytes after the last newline read: a line still being written (kept as bytes, so a
   * character split between two reads is decoded whole). */
  partial: Buffer;
}

/** Streams `file` from the cursor up to `size`, yielding its complete lines and advancing the cursor. */
async function* readNew(file: string, c: Cursor, size: number): AsyncGenerator<TailedLine> {
  const stream = createReadStream(file, { start: c.offset, end: size - 1 }) as AsyncIterable<Buffer> & { destroy(): void };
  try {
    for await (const chunk of stream) {
      c.offset += chunk.length;
      let data = c.partial.length > 0 ? Buffer.concat([c.partial, chunk]) : chunk;
      for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a)) {
        const line = data.subarray(0, nl).toString('utf8');
        data = data.subarray(nl + 1);
        c.partial = data;
        yield { file, lineNo: ++c.lineNo, line };
      }
      c.partial = Buffer.from(data);
    }
  } finally {
    stream.destroy();
  }
}

/** Lines of the receipt files named by `paths`, in log order; with `follow`, new ones as they come. */
export async function* tailReceiptLines(paths: readonly string[], opts: TailOptions = {}): AsyncGenerator<TailedLine> {
  const cursors = new Map<string, Cursor>();
  const pollMs = opts.pollMs ?? 200;
  let caughtUp = false;
  for (;;) {
    for (const file of await listReceiptFiles(paths)) {
      const c = cursors.get(file) ?? { offset: 0, lineNo: 0, partial: Buffer.alloc(0) };
      cursors.set(file, c);
      const { size } = await stat(file);
      if (size < c.offset) {
        // The file was cut back (recovery cuts an unsealed tail at start): what was partial is gone.
        c.offset = size;
        c.partial = Buffer.alloc(0);
        continue;
      }
      if (size > c.offset) yield* readNew(file, c, size);
    }
    if (!caughtUp) {
      caughtUp = true;
      if (!opts.follow) {
        // Not following: an unterminated last fragment is shown too (as the torn line it is).
        for (const [file, c] of cursors) if (c.partial.length > 0) yield { file, lineNo: c.lineNo + 1, line: c.partial.toString('utf8') };
      }
      opts.onCaughtUp?.();
    }
    if (!opts.follow || opts.signal?.aborted) break;
    try {
      await sleep(pollMs, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      break;
    }
  }
}
