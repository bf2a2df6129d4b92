/**
 * Holds requests of `on_silence: pause` routes while authority is silent (SPEC §4, issue 5):
 * the decider is re-asked every `retryEveryMs` until it answers PERMIT or DENY or `maxMs`
 * has passed; then the last answer stands (still SILENCE: the request ends SILENCE).
 *
 * Invariants: at most `maxHeld` requests are held at once — beyond that the first answer
 * (a SILENCE) is returned at once, so a dead decider cannot pile up unbounded requests; a
 * re-ask is started only when it can begin before the deadline, so a held request ends no
 * later than `maxMs` plus one decider timeout; the caller records the one final answer, so a
 * held request has exactly one decision receipt.
 */
import type { DeciderAnswer, PausePort } from '../pipeline/ports.js';

/** The bounded holding area for `on_silence: pause` requests. */
export class PauseGate implements PausePort {
  private heldNow = 0;
  constructor(readonly maxHeld: number, private readonly retryEveryMs = 200, private readonly clock: () => number = Date.now) {
    if (!Number.isInteger(maxHeld) || maxHeld < 0) throw new TypeError('maxHeld must be a non-negative integer');
  }

  /** Requests held right now. */
  get held(): number { return this.heldNow; }

  /** Re-asks `attempt` until it is no longer SILENCE or `maxMs` passed. */
  async hold(maxMs: number, first: DeciderAnswer, attempt: () => Promise<DeciderAnswer>): Promise<DeciderAnswer> {
    if (first.decision !== 'SILENCE' || this.heldNow >= this.maxHeld) return first;
    this.heldNow++;
    try {
      const until = this.clock() + maxMs;
      let last: DeciderAnswer = first;
      while (last.decision === 'SILENCE' && this.clock() + this.retryEveryMs < until) {
        await new Promise((r) => setTimeout(r, this.retryEveryMs));
        last = await attempt();
      }
      return last;
    } finally {
      this.heldNow--;
    }
  }
}
