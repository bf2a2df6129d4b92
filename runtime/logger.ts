/**
 * Operational logs (pino). Receipts are not logs: they have their own fsync'd writer.
 * Permit and credential headers are redacted by path, compiled once.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Info lines are written once LOG_BATCH_BYTES have gathered (about five requests' decision and
 * outcome lines), and at least every LOG_FLUSH_MS: one write — one wake-up of a libuv pool
 * thread — per batch instead of per line or two. A warning or an error starts a write at once
 * (when none is under way; else it follows within LOG_FLUSH_MS).
 */
const LOG_BATCH_BYTES = 4096;
const LOG_FLUSH_MS = 100;

/** The gate's pino logger (JSON lines, asynchronous, to stdout unless a destination is given). */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const batched = opts.destination ? undefined : pino.destination({ dest: 1, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS });
  return pino({
    // Warnings and errors (denials included) are not held for a batch.
    hooks: { logMethod(args, method, level) { method.apply(this, args); if (level >= 40) batched?.flush(); } },
    level: opts.level ?? process.env.EGRESS_GATE_LOG_LEVEL ?? 'info',
    base: undefined,
    redact: {
      paths: ['headers.authorization', 'headers["egress-permit"]', 'headers["proxy-authorization"]', 'permit.token', 'credential.value'],
      censor: '[redacted]',
    },
  }, (opts.destination ?? batched) as pino.DestinationStream);
}

/**
 * Writes out what the logger still buffers. Log lines are written asynchronously, in batches
 * (see LOG_BATCH_BYTES; lines that arrive while a write is under way go out together), which
 * keeps logging off the request path's CPU budget; a stopping gate flushes before it exits. A
 * crash may lose the last lines (up to LOG_FLUSH_MS of them) — the receipts, not the logs, are
 * the durable record.
 */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try { log.flush(() => resolve()); } catch { resolve(); }
  });
}

/** Field names of the one canonical decision line per request. */
export const DECISION_LOG = 'egress.decision';
