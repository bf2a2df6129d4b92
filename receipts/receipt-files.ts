/**
 * Which files make up a receipt log, in log order (SPEC §9). The writer names its files
 * `receipts-<first seq, 12 digits>.jsonl`, so name order is log order; readers that are
 * handed a folder accept, like the conformance suite, every regular non-dot file that is empty
 * or whose first line is a JSON object (keep anything else out of the receipts folder, or
 * dot-prefix it).
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readEntries } from './log-lines.js';

export { isLogFileName, listLogFiles, logFileName } from './log-lines.js';

/** Empty, or its first byte opens a JSON object: a log file, as a folder's other files are not. */
async function looksLikeLog(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(1);
    const { bytesRead } = await fh.read(buf, 0, 1, 0);
    return bytesRead === 0 || buf[0] === 0x7b;
  } finally {
    await fh.close();
  }
}

/**
 * The receipt files named by `paths` (files, or folders whose log files are taken), deduplicated
 * and sorted by file name (then full path): the order the log runs in, whatever order given.
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
      if (await looksLikeLog(f)) found.add(f);
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
