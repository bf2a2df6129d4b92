/**
 * Which files make up a receipt log, in chain order. The writer names its files
 * `receipts-<first seq, 12 digits>.jsonl`, so name order is chain order; readers that are
 * handed a folder accept, like the conformance suite, every regular non-dot file whose first
 * line is empty or a compact JWS (keep anything else out of the receipts folder, or dot-prefix it).
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readEntries } from './log-lines.js';

export { isLogFileName, listLogFiles, logFileName } from './log-lines.js';

const JWS_LIKE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

async function firstLineLooksLikeLog(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('latin1');
    const nl = text.indexOf('\n');
    // A first line longer than the buffer is still judged on its prefix: it must be JWS characters.
    const first = (nl >= 0 ? text.slice(0, nl) : text).trim();
    if (first === '' || first.startsWith('{')) return true;
    return nl >= 0 ? JWS_LIKE.test(first) : /^[A-Za-z0-9_.-]+$/.test(first);
  } finally {
    await fh.close();
  }
}

/**
 * The receipt files named by `paths` (files, or folders whose log files are taken), deduplicated
 * and sorted by file name (then full path): the order the chain runs in, whatever order given.
 */
export async function listReceiptFiles(paths: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const p of paths) {
    const abs = path.resolve(p);
    const st = await stat(abs);
    if (!st.isDirectory()) {
      found.add(abs);
      continue;
    }
    for (const ent of await readdir(abs, { withFileTypes: true })) {
      if (!ent.isFile() || ent.name.startsWith('.')) continue;
      const f = path.join(abs, ent.name);
      if (await firstLineLooksLikeLog(f)) found.add(f);
    }
  }
  return [...found].sort((a, b) => {
    const an = path.basename(a);
    const bn = path.basename(b);
    if (an !== bn) return an < bn ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Every entry of the writer's log in `dir`, parsed, in log order (see log-lines.ts readEntries). */
export function readReceiptPayloads(dir: string): AsyncGenerator<Record<string, unknown>> {
  return readEntries(dir);
}
