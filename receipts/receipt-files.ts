/**
 * Which files make up a receipt log, in log order (SPEC §9). The writer names its files
 * `receipts-<first seq, 12 digits>.jsonl`, so name order is log order; readers that are
 * handed a folder accept, like the conformance suite, every regular non-dot file that is empty
 * or whose first line is a JSON object (keep anything else out of the receipts folder, or
 * dot-prefix it).
 */
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseLogLine } from './log-line.js';
import { readLogLines } from './log-lines.js';

const LOG_NAME = /^receipts-(\d{12})\.jsonl$/;

/** The writer's file name for a file whose first line has sequence number `seq`. */
export function logFileName(seq: number): string {
  return `receipts-${String(seq).padStart(12, '0')}.jsonl`;
}

/** True for a name the writer gives its files. */
export function isLogFileName(name: string): boolean {
  return LOG_NAME.test(name);
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
  return names.filter((n) => LOG_NAME.test(n)).sort().map((n) => path.join(dir, n));
}

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

/**
 * Every entry of the writer's log in `dir`, in log order; checkpoint lines are skipped.
 * Nothing is verified (this is the gate reading its own log, e.g. to rebuild spent permit jtis
 * at start); a torn or unparseable line is skipped.
 */
export async function* readReceiptPayloads(dir: string): AsyncGenerator<Record<string, unknown>> {
  for await (const line of readLogLines(await listLogFiles(dir))) {
    if (!line.terminated || line.bytes.length === 0) continue;
    let parsed;
    try {
      parsed = parseLogLine(line.bytes);
    } catch {
      continue;
    }
    if (parsed.type === 'entry') yield parsed.entry;
  }
}
