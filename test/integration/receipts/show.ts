/**
 * Reads receipt contents the way an operator does: `egress-gate receipts show DIR`, one JSON
 * object a line, whatever the log's line format (JWS lines today, JSON entry lines with
 * checkpoints later, SPEC §9). Tests that assert receipt contents read them through here, so
 * a format change touches this one place.
 */
import assert from 'node:assert/strict';
import { cli } from '../harness.js';

/** Every receipt in `dir`, decoded, in chain order. */
export function shownReceipts(dir: string): Record<string, any>[] {
  const r = cli(['receipts', 'show', dir]);
  assert.equal(r.code, 0, `receipts show failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, any>);
}

/** The decision receipts in `dir`. */
export function decisionReceipts(dir: string): Record<string, any>[] {
  return shownReceipts(dir).filter((r) => r.kind === 'decision');
}

/** The receipt with id `id` (undefined when there is none). */
export function shownReceipt(dir: string, id: string | undefined): Record<string, any> | undefined {
  return id === undefined ? undefined : shownReceipts(dir).find((r) => r.id === id);
}
