/**
 * Finding where a receipt file's durable content ends after a crash. Only whole lines that end
 * in "\n" and decode as receipts count; a torn write (a fragment with no newline, bytes a crash
 * left as zeros, a line the kernel persisted only in part) is found here and cut by the writer.
 */
import type { FileHandle } from 'node:fs/promises';
import { decodeReceiptLine, RECEIPT_TYP, verifyReceiptLine, type ReceiptSigner } from './receipt-codec.js';

/** Refuse to silently cut more than this much: that is not a torn write, a human must look. */
export const MAX_RECOVER_BYTES = 4 * 1024 * 1024;

export class ReceiptLogCorruptError extends Error {
  override name = 'ReceiptLogCorruptError';
  readonly code = 'RECEIPT_LOG_CORRUPT';
}

export interface TailState {
  /** Byte length of the valid prefix of the file (ends right after a "\n", or 0). */
  validSize: number;
  /** The last valid line (without newline), or null when the valid prefix is empty. */
  lastLine: string | null;
  /** Its payload's seq. */
  lastSeq: number;
}

/**
 * True when `line` is a receipt this log could have written. Lines signed by the signer's kid
 * must verify; lines under another kid (the receipt key was rotated) are judged on shape only,
 * so a key rotation never cuts good history.
 */
export function isIntactLine(line: string, signer: ReceiptSigner): boolean {
  try {
    const d = decodeReceiptLine(line);
    if (d.header.typ !== RECEIPT_TYP || !Number.isSafeInteger(d.payload.seq)) return false;
    if (d.header.kid === signer.kid) verifyReceiptLine(line, new Map([[signer.kid, signer.publicKey]]));
    return true;
  } catch {
    return false;
  }
}

/**
 * Scans backward from the end of `fh` (of `size` bytes) to the last intact line. Reads a growing
 * window from the end, so only the tail of a large file is read.
 */
export async function findIntactTail(fh: FileHandle, size: number, signer: ReceiptSigner): Promise<TailState> {
  let end = size;
  let window = 64 * 1024;
  while (end > 0) {
    if (size - end > MAX_RECOVER_BYTES) {
      throw new ReceiptLogCorruptError(`more than ${MAX_RECOVER_BYTES} bytes at the end of the receipt log are not intact receipts; refusing to cut them`);
    }
    const start = Math.max(0, end - window);
    const buf = Buffer.alloc(end - start);
    await readFully(fh, buf, start);
    const text = buf.toString('latin1');
    if (text.endsWith('\n')) {
      const prevNl = text.lastIndexOf('\n', text.length - 2);
      if (prevNl < 0 && start > 0) {
        window *= 2;
        continue;
      }
      const line = text.slice(prevNl + 1, text.length - 1);
      if (isIntactLine(line, signer)) {
        return { validSize: end, lastLine: line, lastSeq: decodeReceiptLine(line).payload.seq as number };
      }
      end = start + prevNl + 1;
    } else {
      const nl = text.lastIndexOf('\n');
      if (nl < 0 && start > 0) {
        window *= 2;
        continue;
      }
      end = start + nl + 1;
    }
  }
  return { validSize: 0, lastLine: null, lastSeq: -1 };
}

async function readFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new ReceiptLogCorruptError('receipt log file shrank while being read');
    off += bytesRead;
  }
}
