/**
 * The lines of a receipt log (SPEC §9), streamed in log order with their place (`file:line`)
 * and their exact bytes: a leaf is the entry line's bytes without its newline, so lines are
 * split on 0x0A in the raw bytes and never decoded and re-encoded before hashing. Memory is one
 * read chunk plus the longest line, whatever the size of the log.
 */
import { createReadStream } from 'node:fs';

export interface LogLine {
  file: string;
  /** 1-based line number within its file. */
  lineNo: number;
  /** The line's bytes, without the newline. */
  bytes: Buffer;
  /** False for a last fragment of a file that has no newline (a torn write). */
  terminated: boolean;
}

const NL = 0x0a;

/** The lines of one file, in order; a last fragment without a newline comes with `terminated: false`. */
export async function* readFileLines(file: string): AsyncGenerator<LogLine> {
  let lineNo = 0;
  let carry: Buffer[] = [];
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(NL, start); nl >= 0; nl = chunk.indexOf(NL, start)) {
      const piece = chunk.subarray(start, nl);
      const bytes = carry.length === 0 ? piece : Buffer.concat([...carry, piece]);
      carry = [];
      start = nl + 1;
      yield { file, lineNo: ++lineNo, bytes, terminated: true };
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
  }
  if (carry.length > 0) yield { file, lineNo: ++lineNo, bytes: Buffer.concat(carry), terminated: false };
}

/** The lines of `files`, one file after the other, in the order given. */
export async function* readLogLines(files: readonly string[]): AsyncGenerator<LogLine> {
  for (const file of files) yield* readFileLines(file);
}
