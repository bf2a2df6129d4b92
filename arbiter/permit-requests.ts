/**
 * The requests that wait for people (SPEC §12), in memory, rebuilt from the arbiter's own log
 * at start: a `pending` entry creates one, `vote` entries add decisions, a `resolved` entry
 * ends it. The permit token is never logged, so a request approved before a restart whose
 * permit was not yet collected is issued a fresh permit when it is next polled.
 */
import type { ArbiterReason } from './arbiter-reasons.js';
import type { Caller } from './callers.js';
import { readIssuance } from './issuance-log.js';

export interface RequestFacts {
  method: string;
  url: string;
  body_sha256: string | null;
  query_sha256: string | null;
  /** The JSON-RPC call named for a route chosen by the body (SPEC §4), kept to match it again at signing. */
  jsonrpc?: { method: string; tool?: string };
}

export interface Vote {
  name: string;
  approve: boolean;
  note: string | null;
  at: string;
}

export interface PermitRequest {
  id: string;
  caller: Caller;
  gate: string;
  surface: string;
  action: string;
  request: RequestFacts;
  idempotencyKey: string | null;
  txn: string | null;
  reason: string | null;
  grant: string;
  needed: number;
  createdAt: number;
  expiresAt: number;
  state: 'pending' | 'approved' | 'denied' | 'expired';
  /** Why a denied request ended when no approver denied it (the route maps changed while it waited). */
  ended?: { reason: ArbiterReason; detail: string };
  votes: Vote[];
  permit?: { token: string; jti: string; exp: number; receipt: string };
}

export class PermitRequests {
  readonly byId = new Map<string, PermitRequest>();
  readonly byIdempotency = new Map<string, string>();

  add(r: PermitRequest): void {
    this.byId.set(r.id, r);
    if (r.idempotencyKey !== null) this.byIdempotency.set(idemKey(r.caller.id, r.idempotencyKey), r.id);
  }

  waiting(): PermitRequest[] {
    return [...this.byId.values()].filter((r) => r.state === 'pending');
  }

  /** Replays the log of `dir`. Returns how many requests still wait. */
  async rebuild(dir: string): Promise<number> {
    for await (const e of readIssuance(dir)) {
      const id = typeof e.request_id === 'string' ? e.request_id : undefined;
      if (!id) continue;
      if (e.event === 'pending') {
        const c = e.caller as Caller;
        this.add({
          id, caller: { subject: c.subject, id: c.id }, gate: e.aud as string, surface: e.surface as string, action: e.action as string,
          request: e.request as RequestFacts, idempotencyKey: (e.idempotency_key as string | null) ?? null, txn: (e.txn as string | null) ?? null,
          reason: (e.reason_given as string | null) ?? null, grant: e.grant as string, needed: e.needed as number,
          createdAt: Date.parse(e.ts as string), expiresAt: Date.parse(e.expires_at as string), state: 'pending', votes: [],
        });
        continue;
      }
      const r = this.byId.get(id);
      if (!r) continue;
      if (e.event === 'vote') r.votes.push({ name: e.approver as string, approve: e.approve === true, note: (e.note as string | null) ?? null, at: e.ts as string });
      if (e.event === 'resolved') {
        if (e.decision === 'PERMIT' || e.state === 'approved') r.state = 'approved';
        else r.state = e.reason === 'APPROVAL_EXPIRED' ? 'expired' : 'denied';
        if (r.state === 'denied' && e.reason !== 'APPROVAL_DENIED' && typeof e.reason === 'string') {
          r.ended = { reason: e.reason as ArbiterReason, detail: typeof e.detail === 'string' ? e.detail : 'the request ended without a permit' };
        }
      }
    }
    // Decided before a stop that came before the decision's end was logged: a denial logged as a
    // vote ends it (its `resolved` entry may be missing); enough approvals make it approved, and
    // the next poll signs it.
    for (const r of this.waiting()) {
      if (r.votes.some((v) => !v.approve)) r.state = 'denied';
      else if (r.votes.length >= r.needed) r.state = 'approved';
    }
    return this.waiting().length;
  }
}

export function idemKey(callerId: string, key: string): string {
  return `${callerId}\0${key}`;
}
