/**
 * Operational logs (pino). Receipts are not logs: they have their own fsync'd writer.
 * Permit and credential headers are redacted by path, compiled once.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** The gate's pino logger (JSON lines, asynchronous, to stdout unless a destination is given). */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino({
    level: opts.level ?? process.env.EGRESS_GATE_LOG_LEVEL ?? 'info',
    base: undefined,
    redact: {
      paths: ['headers.authorization', 'headers["egress-permit"]', 'headers["proxy-authorization"]', 'permit.token', 'credential.value'],
      censor: '[redacted]',
    },
  }, (opts.destination ?? pino.destination({ dest: 1, sync: false })) as pino.DestinationStream);
}

/**
 * Writes out what the logger still buffers. Log lines are written asynchronously (lines
 * that arrive while a write is under way go out together), which keeps logging off the
 * request path's CPU budget; a stopping gate flushes before it exits. A crash may lose the
 * last lines — the receipts, not the logs, are the durable record.
 */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    try { log.flush(() => resolve()); } catch { resolve(); }
  });
}

/** Field names of the one canonical decision line per request. */
export const DECISION_LOG = 'egress.decision';
