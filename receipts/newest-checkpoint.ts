/**
 * The newest checkpoint line of a log, found by reading its files backwards: every file ends
 * with a checkpoint line (SPEC §9), so for a sealed log this reads one block of the last file,
 * whatever the size of the log. An unsealed tail (entries after the last checkpoint, as a
 * crash may leave before recovery) is skipped over.
 */
import { open } from 'node:fs/promises';
import { parseLogLine } from './log-line.js';

export interface NewestCheckpoint {
  file: string;
  /** The note, verbatim (not verified here). */
  note: string;
  /** The tree size the note's text states (its second line). */
  size: number;
}

const BLOCK = 64 * 1024;

/** The tree size a checkpoint note states, read without verifying it; undefined when it states none. */
export function statedSize(note: string): number | undefined {
  const second = note.split('\n', 2)[1];
  return second !== undefined && /^(0|[1-9][0-9]*)$/.test(second) ? Number(second) : undefined;
}

/** Complete lines of `file` from the last to the first, as bytes without their newline. */
async function* linesBackwards(file: string): AsyncGenerator<Buffer> {
  const fh = await open(file, 'r');
  try {
    let pos = (await fh.stat()).size;
    let tail = Buffer.alloc(0);
    let torn = true;
    while (pos > 0) {
      const len = Math.min(BLOCK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      let data = Buffer.concat([buf, tail]);
      if (torn) {
        // A last fragment without a newline is torn: not a line. It may span blocks.
        const lastNl = data.lastIndexOf(0x0a);
        if (lastNl < 0) {
          tail = Buffer.alloc(0);
          continue;
        }
        data = data.subarray(0, lastNl + 1);
        torn = false;
      }
      // data ends with "\n": yield the lines that end at each newline and start after another.
      let end = data.length - 1;
      while (end > 0) {
        const nl = data.lastIndexOf(0x0a, end - 1);
        if (nl < 0) break;
        yield data.subarray(nl + 1, end);
        end = nl;
      }
      tail = data.subarray(0, end + 1);
    }
    if (tail.length > 1) yield tail.subarray(0, tail.length - 1);
  } finally {
    await fh.close();
  }
}

/** The last checkpoint line of `files` (in log order), or undefined when there is none. */
export async function newestCheckpoint(files: readonly string[]): Promise<NewestCheckpoint | undefined> {
  for (let i = files.length - 1; i >= 0; i--) {
    const file = files[i]!;
    for await (const bytes of linesBackwards(file)) {
      let parsed;
      try {
        parsed = parseLogLine(bytes);
      } catch {
        continue;
      }
      if (parsed.type !== 'checkpoint') continue;
      const size = statedSize(parsed.note);
      if (size !== undefined) return { file, note: parsed.note, size };
    }
  }
  return undefined;
}
