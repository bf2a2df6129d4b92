/**
 * A file written whole or not at all: readers see the old content or the new, never a part,
 * and a crash leaves no empty file under the name (the data is on disk before the rename).
 */
import { open, rename, rm } from 'node:fs/promises';

/** Writes via an exclusive temporary file created with `mode` (never wider), fsynced, then renamed. */
export async function writeFileAtomic(p: string, text: string, mode: number): Promise<void> {
  const tmp = `${p}.tmp-${process.pid}-${Date.now()}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, p);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
