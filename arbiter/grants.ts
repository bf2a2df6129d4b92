/**
 * Grants (SPEC §12): which subject may have permits for which surface and action at which
 * gates, and how (auto, or by N distinct approvers); and the per subject+grant rate limit.
 */
import type { GrantConfig } from './types.js';

/** `agent:*` matches by prefix; anything else exactly. */
export function subjectFits(pattern: string, subject: string): boolean {
  return pattern.endsWith('*') ? subject.startsWith(pattern.slice(0, -1)) : pattern === subject;
}

/** The first grant (config order) for this subject, surface, action and gate. */
export function findGrant(grants: readonly GrantConfig[], q: { subject: string; surface: string; action: string; gate: string }): GrantConfig | undefined {
  return grants.find((g) => g.surface === q.surface && g.action === q.action && g.gates.includes(q.gate) && subjectFits(g.subject, q.subject));
}

/**
 * Sliding-window counters, one per subject+grant, in this process only (each replica counts
 * its own; README, Operating). A slot is taken when a permit or a pending request is granted,
 * and given back when that answer could not be made durable.
 */
export class RateLimiter {
  private readonly used = new Map<string, number[]>();

  constructor(private readonly clock: () => number) {}

  /** Takes a slot, or says how many seconds until one frees. */
  take(key: string, rate: { count: number; windowMs: number }): { ok: true; release: () => void } | { ok: false; retryAfterS: number } {
    const now = this.clock();
    let list = this.used.get(key);
    if (!list) this.used.set(key, (list = []));
    // Pruned in place: a release() handed out earlier keeps pointing at this same array.
    while (list.length > 0 && (list[0] as number) <= now - rate.windowMs) list.shift();
    if (list.length >= rate.count) {
      return { ok: false, retryAfterS: ((list[0] as number) + rate.windowMs - now) / 1000 };
    }
    list.push(now);
    const mine = list;
    return { ok: true, release: () => { const i = mine.indexOf(now); if (i >= 0) mine.splice(i, 1); } };
  }
}
