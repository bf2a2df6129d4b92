/**
 * The arbiter's receipt log (SPEC §9 format, its own origin): every request and answer as a
 * `kind: issuance` entry, written through receipts/ReceiptLog. This is the one place that
 * writes and reads it, so a change of the log's format touches one module.
 *
 * Never written: the permit itself, a bearer token, a body — only digests and ids.
 */
import { ReceiptLog, type ReceiptBody } from '../receipts/receipt-log.js';

/** The fields of one issuance entry besides `kind` (SPEC §12). */
export interface IssuanceFields {
  /** request (a new POST answered at once), pending, vote, resolved (a pending request ended), break_glass. */
  event: 'request' | 'pending' | 'vote' | 'resolved' | 'break_glass';
  [field: string]: unknown;
}

export class IssuanceLog {
  constructor(private readonly log: ReceiptLog) {}

  get writable(): boolean {
    return this.log.writable;
  }

  /** Resolves once the entry is durable; rejects (ReceiptUnavailableError) when it is not. */
  append(fields: IssuanceFields): Promise<{ id: string; seq: number }> {
    return this.log.append({ kind: 'issuance', ...fields });
  }

  lifecycle(fields: Record<string, unknown>): Promise<{ id: string; seq: number }> {
    return this.log.append({ kind: 'lifecycle', ...fields });
  }
}

/** Every issuance entry of a log folder, in order (signatures not checked): restart rebuild and audit. */
export async function* readIssuance(dir: string): AsyncGenerator<Record<string, unknown> & IssuanceFields> {
  for await (const p of ReceiptLog.readAll(dir)) {
    if (p.kind === 'issuance') yield p as Record<string, unknown> & IssuanceFields;
  }
}
