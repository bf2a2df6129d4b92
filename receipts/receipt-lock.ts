/**
 * One writer per receipts folder (SPEC §9): an exclusive lock taken before anything is
 * written. Node has no flock, so the lock is a file `<dir>/.lock` created with O_EXCL holding
 * `{pid, host, started}`; it is removed when the log closes.
 *
 * A lock file left by a process that died (kill -9, power loss) is stale, and taken over,
 * when its pid is not alive on this host, or is our own pid (a container restarted: the gate is
 * pid 1 again). Limits: a pid reused by an unrelated live process keeps the lock held until it
 * exits (the refusal names the pid and the file, for a human to remove); and the check only
 * works within one host and pid namespace — two containers sharing one volume see each other's
 * lock as held only when the pid happens to exist in their own namespace, so a shared
 * receipts volume must be mounted by one pod at a time (ReadWriteOnce).
 */
import { closeSync, constants, openSync, readFileSync, realpathSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = '.lock';

/** The folder is held by another live gate. */
export class ReceiptLogLockedError extends Error {
  override name = 'ReceiptLogLockedError';
  readonly code = 'RECEIPT_LOG_LOCKED';
}

interface LockInfo {
  pid: number;
  host?: string;
  started?: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    return Number.isSafeInteger(v.pid) && v.pid > 0 ? v : undefined;
  } catch {
    return undefined; // unreadable or half-written: a writer died while creating it
  }
}

export interface ReceiptLock {
  readonly file: string;
  release(): void;
}

/** Folders this process holds: the pid in their lock file is ours, so it cannot tell them apart. */
const HELD_HERE = new Set<string>();

/** Takes the lock of `dir` or throws ReceiptLogLockedError. */
export function lockReceiptDir(dir: string): ReceiptLock {
  const file = path.join(dir, LOCK_FILE);
  const key = realpathSync(dir);
  if (HELD_HERE.has(key)) throw new ReceiptLogLockedError(`receipts.dir ${dir} is in use by another receipt log of this process (pid ${process.pid}): one writer per receipts folder`);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readLock(file);
      if (held && held.pid !== process.pid && alive(held.pid)) {
        throw new ReceiptLogLockedError(`receipts.dir ${dir} is in use by another gate (pid ${held.pid}${held.started ? `, since ${held.started}` : ''}; lock ${file}): one gate per receipts folder`);
      }
      // Stale (its writer is gone, or is us after a restart): take it over.
      try { unlinkSync(file); } catch (u) { if ((u as NodeJS.ErrnoException).code !== 'ENOENT') throw u; }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(info)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    let released = false;
    HELD_HERE.add(key);
    return {
      file,
      release() {
        if (released) return;
        released = true;
        HELD_HERE.delete(key);
        // Only our own lock is removed (never one a later gate took over).
        if (readLock(file)?.pid === process.pid) {
          try { unlinkSync(file); } catch { /* gone already */ }
        }
      },
    };
  }
  throw new ReceiptLogLockedError(`receipts.dir ${dir}: could not take the lock ${file}`);
}
