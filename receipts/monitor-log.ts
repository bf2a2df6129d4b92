/**
 * One run of `receipts monitor` (SPEC §2, §10): fetch a gate's newest checkpoint and a
 * consistency proof from the checkpoint kept last time, verify both with the pinned key, and
 * only then replace the kept one (atomically: a temp file in the same folder, then rename).
 *
 * Why the kept checkpoint can only move forward: the new one is kept only when a consistency
 * proof (RFC 9162 §2.1.4) shows the kept tree is a prefix of it, so a log cut back, forked, or
 * rewritten and re-signed with the real key is refused, and the kept file stays as it was —
 * the evidence `receipts verify --checkpoint` later checks the files against.
 *
 * The checkpoint kept is the one the consistency answer ends with (the proof is to it). The
 * one fetched first from `/receipts/checkpoint` is checked too (signature, origin, not
 * smaller than the kept one, and equal roots where sizes are equal): two differently rooted
 * signed checkpoints of one size are a fork, whichever endpoint served them.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { verifyConsistency } from './tlog/merkle.js';
import { parseConsistencyAnswer } from './tlog/tlog-proof.js';
import { CheckpointOpener, CheckpointOpenError, type LogKey, type OpenedCheckpoint } from './log-key.js';

export type MonitorResult =
  | { ok: true; first: boolean; from: number; size: number; root: string }
  | { ok: false; reason: string };

/** The run could not be made (gate unreachable, unreadable state): nothing was judged or kept. */
export class MonitorError extends Error {
  override name = 'MonitorError';
  readonly code = 'MONITOR_FAILED';
}

export interface MonitorOptions {
  /** The gate's admin base URL. */
  url: string;
  key: LogKey;
  /** Where the kept checkpoint lives (its note, verbatim). */
  stateFile: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

async function readKept(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MonitorError(`cannot read state ${file}: ${(e as Error).message}`);
  }
}

/** Writes `text` to `file` so that readers see the old content or the new, never a part. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fh = await open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, file);
}

const b64 = (b: Buffer): string => b.toString('base64');

/** Runs one monitor round; see the module comment. Throws MonitorError when it cannot judge. */
export async function monitorLog(opts: MonitorOptions): Promise<MonitorResult> {
  const doFetch = opts.fetch ?? fetch;
  const base = opts.url.replace(/\/+$/, '');
  const get = async (p: string): Promise<string> => {
    let res: Response;
    try {
      res = await doFetch(`${base}${p}`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
    } catch (e) {
      throw new MonitorError(`cannot fetch ${base}${p}: ${(e as Error).message}`);
    }
    const body = await res.text();
    if (res.status !== 200) throw new MonitorError(`${base}${p} answered ${res.status}: ${body.slice(0, 200).trim()}`);
    return body;
  };
  const opener = new CheckpointOpener(opts.key);
  const keptNote = await readKept(opts.stateFile);
  let kept: OpenedCheckpoint | undefined;
  if (keptNote !== undefined) {
    try {
      kept = opener.open(keptNote);
    } catch (e) {
      if (e instanceof CheckpointOpenError) throw new MonitorError(`state ${opts.stateFile} does not hold a checkpoint of this key: ${e.message}`);
      throw e;
    }
  }
  const fault = (reason: string): MonitorResult => ({ ok: false, reason });
  const openServed = (note: string, what: string): OpenedCheckpoint | string => {
    try {
      return opener.open(note);
    } catch (e) {
      if (e instanceof CheckpointOpenError) return `${what}: ${e.message}`;
      throw e;
    }
  };

  const latestNote = await get('/receipts/checkpoint');
  const latest = openServed(latestNote, '/receipts/checkpoint');
  if (typeof latest === 'string') return fault(latest);
  if (!kept) {
    await writeFileAtomic(opts.stateFile, latestNote);
    return { ok: true, first: true, from: 0, size: latest.size, root: b64(latest.root) };
  }
  if (latest.size < kept.size) return fault(`/receipts/checkpoint: tree size ${latest.size} is smaller than the kept ${kept.size} (the log was cut back)`);
  if (latest.size === kept.size && !latest.root.equals(kept.root)) {
    return fault(`/receipts/checkpoint: tree size ${latest.size} with root ${b64(latest.root)}, but the kept checkpoint of that size has root ${b64(kept.root)} (a fork)`);
  }

  const answer = await get(`/receipts/consistency?from=${kept.size}`);
  let proof;
  try {
    proof = parseConsistencyAnswer(answer);
  } catch (e) {
    return fault(`/receipts/consistency: not a consistency answer: ${(e as Error).message}`);
  }
  const next = openServed(proof.checkpoint, '/receipts/consistency');
  if (typeof next === 'string') return fault(next);
  if (next.size < kept.size) return fault(`/receipts/consistency: tree size ${next.size} is smaller than the kept ${kept.size} (the log was cut back)`);
  if (next.size < latest.size) return fault(`/receipts/consistency: tree size ${next.size} is smaller than the ${latest.size} of /receipts/checkpoint just before`);
  if (next.size === latest.size && !next.root.equals(latest.root)) {
    return fault(`two checkpoints of tree size ${next.size} with different roots (${b64(latest.root)}, ${b64(next.root)}): a fork`);
  }
  if (!verifyConsistency(kept.size, next.size, kept.root, next.root, proof.path)) {
    return fault(`tree size ${next.size} (root ${b64(next.root)}) does not extend the kept tree size ${kept.size} (root ${b64(kept.root)}): the consistency proof does not verify`);
  }
  await writeFileAtomic(opts.stateFile, proof.checkpoint);
  return { ok: true, first: false, from: kept.size, size: next.size, root: b64(next.root) };
}
