/**
 * Low-level file operations of the receipt writer: creating a log file durably and writing a
 * buffer completely at a position (short writes are continued; the error of a write that cannot
 * continue, e.g. EFBIG or ENOSPC, is thrown to the writer, which cuts the batch away).
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Opens (creating, 0600) a log file for positional writes; a new file's folder entry is fsync'ed. */
export async function openLogFile(file: string, dir: string): Promise<FileHandle> {
  let created = false;
  let fh: FileHandle;
  try {
    fh = await open(file, constants.O_RDWR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o640);
    created = true;
  }
  if (created) {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }
  return fh;
}

/** Writes all of `buf` at `position`. */
export async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}
