/**
 * Low-level file operations of the receipt writer: creating a log file durably and writing a
 * buffer completely at a position (short writes are continued; the error of a write that cannot
 * continue, e.g. EFBIG or ENOSPC, is thrown to the writer, which cuts the batch away).
 * Synchronous on purpose: they run on the receipt writer's own thread (writer-thread.ts), where
 * blocking is the point — one thread owns the file and nothing else waits on it.
 */
import { closeSync, constants, fsyncSync, openSync, writeSync } from 'node:fs';

/** Opens (creating, 0640) a log file for positional writes; a new file's folder entry is fsync'ed. */
export function openLogFileSync(file: string, dir: string): number {
  try {
    return openSync(file, constants.O_RDWR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o640);
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Writes all of `buf` at `position`. */
export function writeFullySync(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
