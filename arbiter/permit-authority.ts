/**
 * The permit authority's decisions (SPEC §12), as values: a permit request goes through
 * parse → match (the gates' route maps) → grant (or an effective break glass) → rate →
 * decider → auto issue or PENDING; approvals end a pending request. No sockets here.
 *
 * Parsing and matching: parse-permit-request.ts.
 *
 * Invariant: a permit leaves this module only inside an answer made after its issuance
 * entry resolved durable; a failed append discards the signed token (RECEIPT_UNAVAILABLE).
 * Every path without a grant, a decider answer, a key or a writable log is a refusal.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../runtime/logger.js';
import type { DeciderPort } from '../runtime/decider-client.js';
import { issuePermit } from '../policy/permits/issue-permit.js';
import type { CompiledPolicy } from '../policy/types.js';
import { problem, type Answer, type ArbiterReason } from './arbiter-reasons.js';
import type { BreakGlass } from './break-glass.js';
import type { Approver, Caller } from './callers.js';
import { findGrant, RateLimiter } from './grants.js';
import type { IssuanceLog } from './issuance-log.js';
import { parsePermitRequest, rematchPermitRequest, type Ask } from './parse-permit-request.js';
import { idemKey, PermitRequests, type PermitRequest } from './permit-requests.js';
import type { ArbiterConfig, GrantConfig } from './types.js';

export interface AuthorityDeps {
  config: ArbiterConfig;
  policy: () => CompiledPolicy | undefined;
  log: IssuanceLog;
  signingKey: () => (JsonWebKey & { kid?: string }) | undefined;
  decider?: DeciderPort;
  breakGlass: BreakGlass;
  clock: () => number;
  logger: Logger;
  onAnswer: (decision: string, reason: string) => void;
}

const POLL_AFTER_S = 2;
/** Answers of finished idempotent POSTs are kept this long for retries. */
const IDEMPOTENT_KEEP_MS = 3_600_000;

/** The signing under way for an approved request (see stateOf). */
const SIGNING = new WeakMap<PermitRequest, ReturnType<PermitAuthority['sign']>>();

export class PermitAuthority {
  readonly requests = new PermitRequests();
  private readonly rate: RateLimiter;
  private readonly finished = new Map<string, { at: number; answer: Promise<Answer> }>();

  constructor(private readonly d: AuthorityDeps) {
    this.rate = new RateLimiter(d.clock);
  }

  /** `POST /v1/permits`. A retry with the same caller and idempotency_key gets the same answer. */
  async request(caller: Caller, body: unknown): Promise<Answer> {
    const idk = (body as { idempotency_key?: unknown } | null)?.idempotency_key;
    if (typeof idk === 'string' && idk !== '' && idk.length <= 200) {
      const key = idemKey(caller.id, idk);
      const waiting = this.requests.byIdempotency.get(key);
      if (waiting) return this.stateOf(this.requests.byId.get(waiting) as PermitRequest, true);
      const done = this.finished.get(key);
      if (done) return done.answer;
      const answer = this.decide(caller, body);
      this.finished.set(key, { at: this.d.clock(), answer });
      // Only a final answer is repeated; a 429 or 503 may go differently next time.
      void answer.then((a) => { if (a.status === 429 || a.status >= 500 || a.status === 202) this.finished.delete(key); });
      return answer;
    }
    return this.decide(caller, body);
  }

  private async decide(caller: Caller, body: unknown): Promise<Answer> {
    const parsed = parsePermitRequest(body, this.d.policy());
    if (!parsed.ok) return this.refuse(caller, undefined, parsed.answer);
    const ask = parsed.ask;
    const grant = findGrant(this.d.config.grants, { subject: caller.subject, surface: ask.surface, action: ask.action, gate: ask.gate });
    const glass = grant ? undefined : this.d.breakGlass.covering(caller.subject, ask.surface, ask.action);
    if (!grant && !glass) return this.refuse(caller, ask, problem('NO_GRANT', `no grant gives ${caller.subject} ${ask.surface}/${ask.action} at gate ${ask.gate}`, this.scope(ask)));
    let release = (): void => undefined;
    if (grant?.rate) {
      const slot = this.rate.take(`${caller.subject}\0${grant.id}`, grant.rate);
      if (!slot.ok) return this.refuse(caller, ask, problem('RATE_LIMITED', `at most ${grant.rate.count} permits per ${grant.rate.windowMs / 1000}s for ${caller.subject} under ${grant.id}`, this.scope(ask), slot.retryAfterS));
      release = slot.release;
    }
    if (this.d.decider) {
      const u = new URL(ask.request.method === 'CONNECT' ? `https://${ask.request.url}` : ask.request.url);
      const a = await this.d.decider.ask({
        gate: ask.gate, subject: caller.subject, surface: ask.surface, action: ask.action, permit: null,
        request: { method: ask.request.method, url: ask.request.url, host: u.hostname, path: u.pathname, query_sha256: ask.request.query_sha256, body_sha256: ask.request.body_sha256, idempotency_key: ask.idempotencyKey },
      });
      if (a.decision !== 'PERMIT') { release(); return this.refuse(caller, ask, problem(a.reason, a.detail, this.scope(ask))); }
    }
    const answer = grant?.approve === 'human' ? await this.hold(caller, ask, grant) : await this.issueNow(caller, ask, grant, glass?.id);
    if (answer.status >= 500) release();
    return answer;
  }

  private scope(ask: Pick<Ask, 'surface' | 'action'>): Record<string, string> {
    return { surface: ask.surface, action: ask.action };
  }

  /** A refusal is logged too; it is answered even when the log cannot take it (a refusal issues nothing). */
  private async refuse(caller: Caller, ask: Ask | undefined, a: Answer): Promise<Answer> {
    this.d.onAnswer(String(a.body.decision), String(a.body.reason));
    const entry = await this.d.log.append({
      event: 'request', decision: a.body.decision, reason: a.body.reason, subject: caller.subject, caller: caller.id,
      aud: ask?.gate ?? null, surface: ask?.surface ?? a.body.surface ?? null, action: ask?.action ?? a.body.action ?? null,
      request: ask ? this.requestFacts(ask) : null, txn: ask?.txn ?? null,
    }).catch(() => undefined);
    if (entry) a.body.receipt = entry.id;
    return a;
  }

  private requestFacts(ask: Pick<Ask, 'request' | 'idempotencyKey'>): Record<string, unknown> {
    return { method: ask.request.method, url: ask.request.url.split('?')[0], query_sha256: ask.request.query_sha256, body_sha256: ask.request.body_sha256, idempotency_key: ask.idempotencyKey };
  }

  /**
   * Signs and logs one permit. The token is returned only after its entry is durable.
   */
  private async sign(caller: Caller, ask: Omit<Ask, 'route' | 'reason'>, ttlS: number, extra: { apr?: string[]; bgl?: string; requestId?: string }, event: 'request' | 'resolved'):
    Promise<{ ok: true; token: string; jti: string; exp: number; receipt: string } | { ok: false; answer: Answer }> {
    // Checked again at signing: an approval may come after the route maps went stale.
    if (!this.d.policy()) return { ok: false, answer: problem('POLICY_UNAVAILABLE', 'no fresh route maps are loaded: nothing is signed until they are', this.scope(ask)) };
    const key = this.d.signingKey();
    let token: string;
    const jti = randomUUID();
    const nowMs = this.d.clock();
    try {
      if (!key) throw new Error('no signing key is loaded');
      token = await issuePermit({
        key, iss: this.d.config.arbiter.iss, aud: ask.gate, sub: caller.subject, surface: ask.surface, action: ask.action, ttlS, jti, clock: () => nowMs,
        request: { method: ask.request.method, url: ask.request.url, ...(ask.request.body_sha256 ? { bodySha256: ask.request.body_sha256 } : {}), ...(ask.request.query_sha256 ? { querySha256: ask.request.query_sha256 } : {}) },
        ...(ask.idempotencyKey !== null ? { idk: ask.idempotencyKey } : {}), ...(ask.txn !== null ? { txn: ask.txn } : {}),
        ...(extra.apr ? { apr: extra.apr } : {}), ...(extra.bgl ? { bgl: extra.bgl } : {}),
      });
    } catch (e) {
      return { ok: false, answer: problem('KEYS_UNAVAILABLE', `the permit could not be signed: ${(e as Error).message}`, this.scope(ask)) };
    }
    const exp = Math.floor(nowMs / 1000) + ttlS;
    try {
      const entry = await this.d.log.append({
        event, decision: 'PERMIT', reason: extra.bgl ? 'BREAK_GLASS' : extra.apr ? 'APPROVED' : 'GRANT',
        ...(extra.requestId ? { request_id: extra.requestId } : {}),
        subject: caller.subject, caller: caller.id, aud: ask.gate, surface: ask.surface, action: ask.action, request: this.requestFacts(ask),
        permit: { jti, sha256: createHash('sha256').update(token).digest('base64url'), exp }, approvals: extra.apr ?? [], break_glass: extra.bgl ?? null, txn: ask.txn,
      });
      this.d.onAnswer('PERMIT', extra.apr ? 'APPROVED' : 'GRANT');
      return { ok: true, token, jti, exp, receipt: entry.id };
    } catch (e) {
      // The signed token is dropped here: a permit whose issuance is not on disk never leaves.
      this.d.onAnswer('SILENCE', 'RECEIPT_UNAVAILABLE');
      return { ok: false, answer: problem('RECEIPT_UNAVAILABLE', `the issuance entry could not be written: ${(e as Error).message}`, this.scope(ask)) };
    }
  }

  private ttlOf(grant: GrantConfig | undefined): number {
    return grant?.ttlS ?? this.d.config.arbiter.ttlS;
  }

  private async issueNow(caller: Caller, ask: Ask, grant: GrantConfig | undefined, bgl: string | undefined): Promise<Answer> {
    const s = await this.sign(caller, ask, this.ttlOf(grant), bgl ? { bgl } : {}, 'request');
    if (!s.ok) return s.answer;
    return { status: 201, body: { decision: 'PERMIT', permit: s.token, jti: s.jti, expires_at: new Date(s.exp * 1000).toISOString(), receipt: s.receipt } };
  }

  private async hold(caller: Caller, ask: Ask, grant: GrantConfig): Promise<Answer> {
    const now = this.d.clock();
    const r: PermitRequest = {
      id: randomUUID(), caller, gate: ask.gate, surface: ask.surface, action: ask.action, request: ask.request,
      idempotencyKey: ask.idempotencyKey, txn: ask.txn, reason: ask.reason, grant: grant.id, needed: grant.approvals,
      createdAt: now, expiresAt: now + this.d.config.pending.maxWaitMs, state: 'pending', votes: [],
    };
    try {
      await this.d.log.append({
        event: 'pending', decision: 'PENDING', reason: 'APPROVAL_REQUIRED', request_id: r.id, subject: caller.subject, caller,
        aud: r.gate, surface: r.surface, action: r.action, request: ask.request, idempotency_key: r.idempotencyKey, txn: r.txn,
        reason_given: r.reason, grant: r.grant, needed: r.needed, expires_at: new Date(r.expiresAt).toISOString(),
      });
    } catch (e) {
      return problem('RECEIPT_UNAVAILABLE', `the pending request could not be logged: ${(e as Error).message}`, this.scope(ask));
    }
    this.requests.add(r);
    this.d.onAnswer('PENDING', 'APPROVAL_REQUIRED');
    return this.stateOf(r, true);
  }

  /** The answer for a request's present state: 202 while it waits, the permit once approved (201 to a POST, 200 to a poll). */
  async stateOf(r: PermitRequest, post: boolean): Promise<Answer> {
    const base = { request_id: r.id, state: r.state, surface: r.surface, action: r.action, approvals: r.votes.filter((v) => v.approve).map((v) => v.name), approvals_needed: r.needed };
    if (r.state === 'pending') {
      return { status: 202, headers: { 'retry-after': String(POLL_AFTER_S) }, body: { decision: 'PENDING', ...base, poll: `/v1/permit-requests/${r.id}`, expires_at: new Date(r.expiresAt).toISOString() } };
    }
    if (r.state === 'denied') return problem(r.ended?.reason ?? 'APPROVAL_DENIED', r.ended?.detail ?? 'an approver denied this request', base);
    if (r.state === 'expired') return problem('APPROVAL_EXPIRED', 'nobody decided this request within pending.max_wait', base);
    if (!r.permit) {
      // One signing per approved request, however many polls arrive while it is under way: a
      // second concurrent poll waits for the first one's permit instead of minting another.
      let signing = SIGNING.get(r);
      if (!signing) {
        signing = this.signApproved(r, base.approvals).finally(() => SIGNING.delete(r));
        SIGNING.set(r, signing);
      }
      const s = await signing;
      if (!s.ok) return s.answer;
      r.permit ??= { token: s.token, jti: s.jti, exp: s.exp, receipt: s.receipt };
    }
    return { status: post ? 201 : 200, body: { decision: 'PERMIT', ...base, permit: r.permit.token, jti: r.permit.jti, expires_at: new Date(r.permit.exp * 1000).toISOString(), receipt: r.permit.receipt } };
  }

  /**
   * Signs the permit of an approved request once it still matches: the route maps may have
   * changed while it waited, and an approval is for the request as it was matched then. A
   * request that no longer matches ends denied with the reason; no fresh route maps at all
   * (POLICY_UNAVAILABLE) is a refusal for now, and a later poll tries again.
   */
  private async signApproved(r: PermitRequest, approvals: string[]): ReturnType<PermitAuthority['sign']> {
    const now = rematchPermitRequest(r, this.d.policy());
    const grant = this.d.config.grants.find((g) => g.id === r.grant);
    if (!now.ok || !grant) {
      const answer = now.ok ? problem('NO_GRANT', `the grant ${r.grant} this request was held under is no longer configured`) : now.answer;
      const reason = answer.body.reason as ArbiterReason;
      if (reason === 'POLICY_UNAVAILABLE') return { ok: false, answer: problem(reason, String(answer.body.detail), this.scope(r)) };
      const detail = `approved, but it no longer matches what was approved: ${String(answer.body.detail)}`;
      await this.resolve(r, 'denied', { reason, detail });
      return { ok: false, answer: problem(reason, detail, this.scope(r)) };
    }
    return this.sign(r.caller, r, this.ttlOf(grant), { apr: approvals, requestId: r.id }, 'resolved');
  }

  /** `GET /v1/permit-requests/<id>`: only its own caller sees a request. */
  poll(caller: Caller, id: string): Promise<Answer> | Answer {
    const r = this.requests.byId.get(id);
    if (!r || r.caller.id !== caller.id) return problem('NOT_FOUND', 'no such permit request of this caller');
    return this.stateOf(r, false);
  }

  /** `GET /v1/approvals`: what waits, for approvers. */
  waiting(): Record<string, unknown>[] {
    return this.requests.waiting().map((r) => ({
      request_id: r.id, subject: r.caller.subject, gate: r.gate, surface: r.surface, action: r.action,
      request: { method: r.request.method, url: r.request.url.split('?')[0] }, reason: r.reason, txn: r.txn,
      approvals: r.votes.filter((v) => v.approve).map((v) => v.name), approvals_needed: r.needed,
      created_at: new Date(r.createdAt).toISOString(), expires_at: new Date(r.expiresAt).toISOString(),
    }));
  }

  /** `POST /v1/approvals/<id>`: one decision per approver; a denial ends the request; never the caller itself. */
  async vote(by: Approver, id: string, approve: boolean, note: string | null): Promise<Answer> {
    const r = this.requests.byId.get(id);
    if (!r) return problem('NOT_FOUND', 'no such permit request');
    if (r.state !== 'pending') return problem('ALREADY_DECIDED', `the request is ${r.state}`);
    if (by.id === r.caller.id || by.name === r.caller.subject) return problem('SELF_APPROVAL', `${by.name} made this request and cannot decide it`);
    if (r.votes.some((v) => v.name === by.name)) return problem('ALREADY_VOTED', `${by.name} has already decided this request`);
    const at = new Date(this.d.clock()).toISOString();
    try {
      await this.d.log.append({ event: 'vote', request_id: r.id, approver: by.name, approve, note });
    } catch (e) {
      return problem('RECEIPT_UNAVAILABLE', `the decision could not be logged: ${(e as Error).message}`);
    }
    r.votes.push({ name: by.name, approve, note, at });
    if (!approve) await this.resolve(r, 'denied');
    else if (r.votes.filter((v) => v.approve).length >= r.needed) {
      r.state = 'approved';
      // Issued now so the poller finds it; if that fails, the next poll issues it.
      await this.stateOf(r, false);
    }
    return { status: 200, body: { request_id: r.id, state: r.state, approvals: r.votes.filter((v) => v.approve).map((v) => v.name), approvals_needed: r.needed } };
  }

  private async resolve(r: PermitRequest, state: 'denied' | 'expired', ended?: PermitRequest['ended']): Promise<void> {
    r.state = state;
    if (ended) r.ended = ended;
    const reason = ended?.reason ?? (state === 'denied' ? 'APPROVAL_DENIED' : 'APPROVAL_EXPIRED');
    this.d.onAnswer('DENY', reason);
    await this.d.log.append({
      event: 'resolved', request_id: r.id, decision: 'DENY', reason, ...(ended ? { detail: ended.detail } : {}), subject: r.caller.subject, aud: r.gate, surface: r.surface, action: r.action,
      request: this.requestFacts(r), approvals: r.votes.filter((v) => v.approve).map((v) => v.name), txn: r.txn,
    }).catch((e) => this.d.logger.error({ err: (e as Error).message, request_id: r.id }, 'the end of a pending request could not be logged'));
  }

  /** Expires what nobody decided in time and forgets old idempotent answers. */
  async sweep(): Promise<void> {
    const now = this.d.clock();
    for (const r of this.requests.waiting()) if (r.expiresAt <= now) await this.resolve(r, 'expired');
    for (const [k, v] of this.finished) if (v.at < now - IDEMPOTENT_KEEP_MS) this.finished.delete(k);
  }
}
