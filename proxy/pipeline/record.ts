/**
 * Stage record: the only place that appends a decision or an outcome entry, counts it and
 * announces it (metric + decision log line, and the admin console's live stream when one
 * watches), and falls back to `SILENCE RECEIPT_UNAVAILABLE`
 * when the entry cannot be made durable.
 *
 * Invariant, held by the types: bytes go upstream only through forward(), a splice or an
 * upgrade, and each of those takes a {@link Clearance}. A Clearance is made in exactly one
 * place — {@link Recorder.decision}, after the decision entry's append resolved (the entry is
 * durable) and only for a verdict that says forward. Nothing else can construct one: its
 * constructor is private and the factory is a module-local function.
 */
import type { Decision, GateConfig, JsonRpcCall } from '../../policy/types.js';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import { announceDecision } from '../observe/announce-decision.js';
import { decisionEvent, type DecisionHub } from '../observe/console/decision-hub.js';
import type { GateMetrics } from '../observe/metrics.js';
import type { Logger } from '../../runtime/logger.js';
import type { Attempt, Decided } from './decision-chain.js';
import type { Verdict } from './decide.js';
import { decisionReceipt, outcomeReceipt } from './receipt-entries.js';
import type { ReplayPort } from './ports.js';

/** Where entries go (the receipt log): resolves once the entry is durable, rejects when it cannot be. */
export interface ReceiptSink {
  append(body: Record<string, unknown>): Promise<{ id: string; seq: number }>;
}

export interface RecorderDeps {
  config: Pick<GateConfig, 'gate'>;
  receipts: ReceiptSink;
  replay?: ReplayPort;
  metrics: GateMetrics;
  log: Logger;
  /** The admin console's live stream: fed only while a console watches (`hub.watched`). */
  hub?: DecisionHub;
}

/** What one outcome entry says (SPEC §9). */
export interface Outcome { status: number | null; bytesUp: number; bytesDown: number; error?: string; durationMs?: number }

let issue: (attempt: Attempt, verdict: Verdict, receiptId: string) => Clearance;

/** Leave to send one decided attempt upstream: its PERMIT (or report-mode) decision entry is durable. */
export class Clearance {
  #outcome: Promise<void> | undefined;
  private constructor(readonly attempt: Attempt, readonly verdict: Verdict, readonly receiptId: string) {}
  static {
    issue = (attempt, verdict, receiptId) => new Clearance(attempt, verdict, receiptId);
  }

  /** The outcome is written once per clearance, whichever path ends the attempt first. */
  static once(c: Clearance, write: () => Promise<void>): Promise<void> {
    c.#outcome ??= write();
    return c.#outcome;
  }
}

/**
 * The result of recording a decision. `receiptId` is undefined only for SILENCE
 * RECEIPT_UNAVAILABLE (already counted and logged): then `verdict` says so and nothing may be
 * sent upstream. `clearance` is set only when the verdict forwards and the entry is durable.
 */
export interface Recorded {
  attempt: Attempt;
  verdict: Verdict;
  receiptId?: string;
  clearance?: Clearance;
}

function make(reason: Reason, detail: string, d?: Decision): Decision {
  return { decision: decisionOf(reason), reason, detail, surface: d?.surface, action: d?.action, route: d?.route };
}

/** Writes decision and outcome entries, and issues Clearances. */
export class Recorder {
  constructor(private readonly deps: RecorderDeps) {}

  /** Records a decided attempt. Never throws. */
  async decision(decided: Decided): Promise<Recorded> {
    const { attempt: a, verdict } = decided;
    this.deps.metrics.decisionDuration.observe(Number(process.hrtime.bigint() - a.started) / 1e9);
    try {
      const { id, seq } = await this.deps.receipts.append(decisionReceipt({
        policy: a.policy, request: a.request, method: a.method, querySha256: a.querySha256, bodySha256: a.bodySha256,
        idempotencyKey: a.idempotencyKey, jsonrpc: a.jsonrpc, subject: this.deps.config.gate.subject, verdict,
        credential: a.credential?.secret, spent: a.claimedJti !== undefined,
      }));
      this.deps.metrics.receipts.inc({ kind: 'decision' });
      this.announce(a, verdict.decision, verdict.enforced, id, seq);
      return { attempt: a, verdict, receiptId: id, ...(verdict.forward ? { clearance: issue(a, verdict, id) } : {}) };
    } catch (e) {
      // No durable entry: nothing leaves, whatever was decided.
      this.deps.log.error({ err: (e as Error).message }, 'decision receipt could not be written');
      if (a.claimedJti) void this.deps.replay?.finish(a.claimedJti, '').catch(() => undefined);
      const silence = make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', verdict.decision);
      this.announce(a, silence, true, undefined, undefined);
      a.credential = undefined;
      return { attempt: a, verdict: { decision: silence, enforced: true, forward: false } };
    }
  }

  /**
   * Records a refusal made outside the chain — a request Node's parser refused (no attempt),
   * a CONNECT whose TLS named another host or that cannot be intercepted — never forwarded,
   * so no clearance. Resolves with what to answer: `d` with its receipt id, or SILENCE
   * RECEIPT_UNAVAILABLE without one when the entry could not be written. Never throws.
   */
  async refusal(d: Decision, a?: Attempt): Promise<{ decision: Decision; receiptId?: string }> {
    if (a) this.deps.metrics.decisionDuration.observe(Number(process.hrtime.bigint() - a.started) / 1e9);
    const ctx = { method: a?.method ?? '', url: a?.request?.url ?? null, started: a?.started };
    try {
      const { id, seq } = await this.deps.receipts.append(decisionReceipt({
        policy: a?.policy, request: a?.request, method: a?.method, subject: this.deps.config.gate.subject, verdict: { decision: d, enforced: true },
      }));
      this.deps.metrics.receipts.inc({ kind: 'decision' });
      announceDecision(this.deps, d, true, id, ctx);
      this.show(d, true, id, seq, ctx.method, ctx.url);
      return { decision: d, receiptId: id };
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message }, 'decision receipt could not be written');
      const silence = make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', d);
      announceDecision(this.deps, silence, true, undefined, ctx);
      this.show(silence, true, undefined, undefined, ctx.method, ctx.url);
      return { decision: silence };
    }
  }

  /** Ends a forwarded attempt: releases its permit claim and writes its outcome entry, once. Never throws. */
  outcome(c: Clearance, o: Outcome): Promise<void> {
    return Clearance.once(c, async () => {
      const jti = c.attempt.claimedJti;
      if (jti) await this.deps.replay?.finish(jti, c.receiptId).catch((e) => this.deps.log.warn({ err: (e as Error).message }, 'replay finish failed'));
      let receipt: string | null = null;
      try {
        receipt = (await this.deps.receipts.append(outcomeReceipt({ of: c.receiptId, status: o.status, bytesUp: o.bytesUp, bytesDown: o.bytesDown, durationMs: o.durationMs ?? 0, error: o.error }))).id;
        this.deps.metrics.receipts.inc({ kind: 'outcome' });
      } catch (e) {
        this.deps.log.error({ err: (e as Error).message, of: c.receiptId }, 'outcome receipt could not be written');
      }
      // The log's answer to "what did the agent get": one line per forwarded attempt, next to
      // its outcome entry; `of` is the decision line's `receipt`, so jq can join the two.
      const a = c.attempt;
      const hub = this.deps.hub;
      if (hub?.watched) {
        hub.publish({
          type: 'outcome', ts: new Date().toISOString(), of: c.receiptId, receipt, status: o.status,
          bytes_up: o.bytesUp, bytes_down: o.bytesDown, ms: o.durationMs ?? null, error: o.error ?? null,
        });
      }
      this.deps.log.info({
        msg: 'egress.outcome', of: c.receiptId, receipt, surface: a.route?.surface ?? null, action: a.route?.action ?? null,
        method: a.method, url: a.request?.url ?? null, status: o.status, bytes_up: o.bytesUp, bytes_down: o.bytesDown,
        ms: o.durationMs ?? null, error: o.error ?? null,
      });
    });
  }

  private announce(a: Attempt, d: Decision, enforced: boolean, receipt: string | undefined, seq: number | undefined): void {
    const url = a.request?.url ?? null;
    announceDecision(this.deps, d, enforced, receipt, { method: a.method, url, started: a.started, jsonrpc: a.jsonrpc });
    this.show(d, enforced, receipt, seq, a.method, url, a.jsonrpc);
  }

  /** To the console's live stream; nothing is built while no console watches. */
  private show(d: Decision, enforced: boolean, receipt: string | undefined, seq: number | undefined, method: string, url: string | null, jsonrpc?: JsonRpcCall): void {
    const hub = this.deps.hub;
    if (hub?.watched) hub.publish(decisionEvent(d, enforced, { receipt, seq }, method, url, jsonrpc));
  }
}
