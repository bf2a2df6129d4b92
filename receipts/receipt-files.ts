/**
 * Which files make up a receipt log, in chain order. The writer names its files
 * `receipts-<first seq, 12 digits>.jsonl`, so name order is chain order; readers that are
 * handed a folder accept, like the conformance suite, every regular non-dot file whose first
 * line is empty or a compact JWS (keep anything else out of the receipts folder, or dot-prefix it).
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { decodeReceiptLine } from './receipt-codec.js';

const LOG_NAME = /^receipts-(\d{12})\.jsonl$/;
const JWS_LIKE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

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

async function firstLineLooksLikeLog(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('latin1');
    const nl = text.indexOf('\n');
    // A first line longer than the buffer is still judged on its prefix: it must be JWS characters.
    const first = (nl >= 0 ? text.slice(0, nl) : text).trim();
    if (first === '') return true;
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

/**
 * Every decodable receipt payload of the writer's log in `dir`, in chain order. Signatures are
 * not checked (this is the gate reading its own log, e.g. to rebuild spent permit jtis at start);
 * a torn or undecodable line is skipped.
 */
export async function* readReceiptPayloads(dir: string): AsyncGenerator<Record<string, unknown>> {
  for (const file of await listLogFiles(dir)) {
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line === '') continue;
      let payload: Record<string, unknown>;
      try {
        payload = decodeReceiptLine(line).payload;
      } catch {
        continue;
      }
      yield payload;
    }
  }
}
