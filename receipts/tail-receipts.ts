/**
 * Reading receipt lines as they are written, for `receipts show [--follow]`. Complete lines
 * only ("\n"-terminated): a batch being written is seen once it is whole. Files are read in
 * name order, and a followed folder is re-listed on each poll, so reading continues into
 * files created by rotation.
 */
import { open, stat } from 'node:fs/promises';
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
}

interface Cursor {
  offset: number;
  lineNo: number;
  partial: string;
}

async function readFrom(file: string, offset: number, size: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(size - offset);
    const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
}

/** Lines of the receipt files named by `paths`, in chain order; with `follow`, new ones as they come. */
export async function* tailReceiptLines(paths: readonly string[], opts: TailOptions = {}): AsyncGenerator<TailedLine> {
  const cursors = new Map<string, Cursor>();
  const pollMs = opts.pollMs ?? 200;
  for (;;) {
    for (const file of await listReceiptFiles(paths)) {
      const c = cursors.get(file) ?? { offset: 0, lineNo: 0, partial: '' };
      cursors.set(file, c);
      const { size } = await stat(file);
      if (size < c.offset) {
        // The writer cut a failed batch away: what was partial is gone.
        c.offset = size;
        c.partial = '';
        continue;
      }
      if (size === c.offset) continue;
      const text = c.partial + (await readFrom(file, c.offset, size));
      c.offset = size;
      const parts = text.split('\n');
      c.partial = parts.pop() ?? '';
      for (const line of parts) yield { file, lineNo: ++c.lineNo, line };
    }
    if (!opts.follow || opts.signal?.aborted) break;
    try {
      await sleep(pollMs, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      break;
    }
  }
  if (!opts.follow) {
    // Not following: an unterminated last fragment is shown too (as the torn line it is).
    for (const [file, c] of cursors) if (c.partial !== '') yield { file, lineNo: c.lineNo + 1, line: c.partial };
  }
}
