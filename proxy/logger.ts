/**
 * Operational logs (pino). Receipts are not logs: they have their own fsync'd writer.
 * Permit and credential headers are redacted by path, compiled once.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino({
    level: opts.level ?? process.env.EGRESS_GATE_LOG_LEVEL ?? 'info',
    base: undefined,
    redact: {
      paths: ['headers.authorization', 'headers["egress-permit"]', 'headers["proxy-authorization"]', 'permit.token', 'credential.value'],
      censor: '[redacted]',
    },
  }, (opts.destination ?? process.stdout) as pino.DestinationStream);
}

/** Field names of the one canonical decision line per request. */
export const DECISION_LOG = 'egress.decision';
