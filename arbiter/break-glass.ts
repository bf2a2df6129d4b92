/**
 * Break glass (SPEC §12): an emergency grant opened by one approver that takes effect once
 * `break_glass.approvals` distinct approvers (the opener counts as the first) have confirmed
 * it, and expires by itself `ttl` after it took effect (an unconfirmed one after
 * `pending.max_wait`). Loud by design: every step is an issuance entry and a `warn` line,
 * and a gauge counts the effective ones. Its permits carry `bgl` (the break-glass id).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../runtime/logger.js';
import { parseDuration } from '../policy/config-values.js';
import { problem, type Answer } from './arbiter-reasons.js';
import type { Approver } from './callers.js';
import { subjectFits } from './grants.js';
import type { IssuanceLog } from './issuance-log.js';

export interface BreakGlassRecord {
  id: string;
  subject: string;
  surface: string;
  action: string;
  ttlMs: number;
  reason: string;
  confirmations: string[];
  state: 'open' | 'effective' | 'expired';
  openedAt: number;
  effectiveAt?: number;
  expiresAt: number;
}

export interface BreakGlassDeps {
  approvals: number;
  maxTtlMs: number;
  maxWaitMs: number;
  log: IssuanceLog;
  logger: Logger;
  clock: () => number;
  onChange: (effective: number) => void;
}

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v !== '' && v.length <= max;

export class BreakGlass {
  private readonly records = new Map<string, BreakGlassRecord>();

  constructor(private readonly d: BreakGlassDeps) {}

  /** The effective break glass covering this subject, surface and action now, if any. */
  covering(subject: string, surface: string, action: string): BreakGlassRecord | undefined {
    const now = this.d.clock();
    for (const r of this.records.values()) {
      if (r.state === 'effective' && r.expiresAt > now && r.surface === surface && r.action === action && subjectFits(r.subject, subject)) return r;
    }
    return undefined;
  }

  async open(by: Approver, body: unknown): Promise<Answer> {
    const b = (body ?? {}) as Record<string, unknown>;
    const ttlMs = typeof b.ttl === 'string' ? parseDuration(b.ttl) : undefined;
    if (!str(b.subject, 200) || !str(b.surface, 200) || !str(b.action, 200) || !str(b.reason, 1000) || ttlMs === undefined || ttlMs <= 0) {
      return problem('REQUEST_INVALID', 'break glass needs subject, surface, action, ttl (a duration) and reason');
    }
    if (ttlMs > this.d.maxTtlMs) return problem('REQUEST_INVALID', `ttl is longer than break_glass.max_ttl (${this.d.maxTtlMs / 1000}s)`);
    const now = this.d.clock();
    const r: BreakGlassRecord = {
      id: randomUUID(), subject: b.subject, surface: b.surface, action: b.action, ttlMs, reason: b.reason,
      confirmations: [by.name], state: 'open', openedAt: now, expiresAt: now + this.d.maxWaitMs,
    };
    return this.step(r, 'opened', by.name, () => this.records.set(r.id, r));
  }

  async confirm(by: Approver, id: string): Promise<Answer> {
    const r = this.records.get(id);
    if (!r) return problem('NOT_FOUND', 'no such break glass');
    if (r.state !== 'open') return problem('ALREADY_DECIDED', `this break glass is ${r.state}`);
    if (r.confirmations.includes(by.name)) return problem('ALREADY_VOTED', `${by.name} has already confirmed it`);
    return this.step(r, 'confirmed', by.name, () => r.confirmations.push(by.name));
  }

  /** Ends what has run out. */
  async sweep(): Promise<void> {
    const now = this.d.clock();
    for (const r of this.records.values()) {
      if (r.state === 'expired' || r.expiresAt > now) continue;
      r.state = 'expired';
      this.d.logger.warn({ break_glass: r.id, subject: r.subject, surface: r.surface, action: r.action }, 'BREAK GLASS expired');
      await this.d.log.append({ event: 'break_glass', step: 'expired', break_glass: this.facts(r) }).catch(() => undefined);
      this.changed();
    }
  }

  private changed(): void {
    this.d.onChange([...this.records.values()].filter((r) => r.state === 'effective' && r.expiresAt > this.d.clock()).length);
  }

  private facts(r: BreakGlassRecord): Record<string, unknown> {
    return {
      id: r.id, subject: r.subject, surface: r.surface, action: r.action, ttl_s: r.ttlMs / 1000, reason: r.reason,
      confirmations: r.confirmations, needed: this.d.approvals, state: r.state, expires_at: new Date(r.expiresAt).toISOString(),
    };
  }

  /** Applies one step only once its entry is durable: an unlogged break glass never takes effect. */
  private async step(r: BreakGlassRecord, step: 'opened' | 'confirmed', by: string, apply: () => void): Promise<Answer> {
    const before = { confirmations: [...r.confirmations], state: r.state, expiresAt: r.expiresAt, effectiveAt: r.effectiveAt };
    apply();
    if (r.confirmations.length >= this.d.approvals) {
      r.state = 'effective';
      r.effectiveAt = this.d.clock();
      r.expiresAt = r.effectiveAt + r.ttlMs;
    }
    try {
      await this.d.log.append({ event: 'break_glass', step, by, break_glass: this.facts(r) });
    } catch (e) {
      Object.assign(r, before);
      if (step === 'opened') this.records.delete(r.id);
      return problem('RECEIPT_UNAVAILABLE', `the break-glass step could not be logged: ${(e as Error).message}`);
    }
    this.d.logger.warn({ break_glass: r.id, step, by, subject: r.subject, surface: r.surface, action: r.action, state: r.state, expires_at: new Date(r.expiresAt).toISOString() }, `BREAK GLASS ${step}${r.state === 'effective' ? ' and effective' : ''}`);
    this.changed();
    return { status: step === 'opened' ? 201 : 200, body: { break_glass: this.facts(r) } };
  }
}
