/**
 * The request lifecycle, one small stage after another:
 * parse → match → (destination check) → authorize → decide → record → respond | forward → outcome.
 *
 * Invariant: forward() is reached only through the single call below, after decide() said
 * forward AND the decision receipt's append() resolved (the receipt is durable). Any exception
 * before that point is caught by the one catch in handle() and becomes SILENCE INTERNAL_ERROR.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledPolicy, Decision, GateConfig, NormalizedRequest, Route } from '../../policy/types.js';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import { parseRequest, type Arrival } from '../pipeline/parse-request.js';
import { authorize, type AuthorizeDeps } from '../pipeline/authorize.js';
import { decide, type Verdict } from '../pipeline/decide.js';
import { decisionReceipt, outcomeReceipt, type ReceiptSink } from '../pipeline/record.js';
import type { DestinationResolver } from '../pipeline/resolve-destination.js';
import type { Forwarder } from '../pipeline/forward.js';
import type { ReplayPort } from '../pipeline/ports.js';
import { announceDecision } from '../observe/announce-decision.js';
import { blockedResponse, send, upstreamFailureResponse } from '../wire/respond.js';
import type { GateMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/logger.js';

export interface PipelineDeps extends AuthorizeDeps {
  config: GateConfig;
  /** The policy in effect, or undefined when none is fresh (SILENCE POLICY_UNAVAILABLE). */
  policy: () => CompiledPolicy | undefined;
  receipts: ReceiptSink;
  resolver: DestinationResolver;
  forwarder: Forwarder;
  replay?: ReplayPort;
  metrics: GateMetrics;
  log: Logger;
}

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('base64url');

class BodyTooLarge extends Error {}

/** Reads a body up to `max` bytes; rejects BodyTooLarge past it. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) { req.pause(); reject(new BodyTooLarge()); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** What one outcome receipt says (SPEC §9). */
export interface Outcome { status: number | null; bytesUp: number; bytesDown: number; error?: string; durationMs?: number }

/** One request on its way through the stages; read-only outside this module. */
export interface Attempt {
  started: bigint;
  arrival: Arrival;
  method: string;
  request?: NormalizedRequest;
  route?: Route;
  policy?: CompiledPolicy;
  token?: string;
  idempotencyKey?: string;
  querySha256?: string;
  bodySha256?: string;
  body?: Buffer;
  address?: string;
  claimedJti?: string;
  /** The credential to set: only on a forwarded PERMIT. */
  credential?: Route['credentials'];
  /** The connection must close after the answer (an unread or oversized body). */
  close: boolean;
}

/** The result of {@link RequestPipeline.decideAndRecord}. */
export interface Recorded {
  attempt: Attempt;
  verdict: Verdict;
  /** The durable decision receipt; undefined only for SILENCE RECEIPT_UNAVAILABLE. */
  receiptId?: string;
}

export class RequestPipeline {
  private readonly permitHeader: string;
  /** Request headers never sent upstream: the permit header and Proxy-Authorization. */
  readonly drop: ReadonlySet<string>;
  constructor(private readonly deps: PipelineDeps) {
    this.permitHeader = deps.config.permits.header.toLowerCase();
    this.drop = new Set([this.permitHeader, 'proxy-authorization']);
  }

  /** Handles one request from the proxy port or from inside a tunnel. Never throws. */
  async handle(req: IncomingMessage, res: ServerResponse, arrival: Arrival): Promise<void> {
    const rec = await this.decideAndRecord(req, arrival);
    if (rec.receiptId === undefined) { send(res, blockedResponse(rec.verdict.decision, undefined), true); return; }
    await this.act(req, res, rec.attempt, rec.verdict, rec.receiptId);
  }

  /**
   * Stages parse → match → destination → authorize → decide → record, shared by plain
   * requests and WebSocket upgrades (handle-upgrade.ts). Never throws. When `receiptId` is
   * undefined the receipt could not be written and `verdict` is SILENCE RECEIPT_UNAVAILABLE
   * (already counted and logged): nothing may be sent upstream. Otherwise the decision
   * receipt is durable, and the caller must end a forwarded attempt with {@link finish}.
   */
  async decideAndRecord(req: IncomingMessage, arrival: Arrival): Promise<Recorded> {
    const a: Attempt = { started: process.hrtime.bigint(), arrival, method: req.method ?? '', close: false };
    let verdict: Verdict;
    try {
      verdict = decide(await this.decideFor(req, a), this.deps.config.gate.mode);
    } catch (e) {
      this.deps.log.error({ err: e }, 'exception in the decision path');
      verdict = { decision: this.make('INTERNAL_ERROR', 'the gate failed while deciding', a.route), enforced: true, forward: false };
    }
    this.deps.metrics.decisionDuration.observe(Number(process.hrtime.bigint() - a.started) / 1e9);
    const d = verdict.decision;
    a.credential = verdict.forward && d.decision === 'PERMIT' ? a.route?.credentials : undefined;
    try {
      const { id } = await this.deps.receipts.append(decisionReceipt({
        policy: a.policy, request: a.request, method: a.method, querySha256: a.querySha256, bodySha256: a.bodySha256,
        idempotencyKey: a.idempotencyKey, subject: this.deps.config.gate.subject, verdict, credential: a.credential?.secret, spent: a.claimedJti !== undefined,
      }));
      this.deps.metrics.receipts.inc({ kind: 'decision' });
      this.announce(a, d, verdict.enforced, id);
      return { attempt: a, verdict, receiptId: id };
    } catch (e) {
      // No durable receipt: nothing leaves, whatever was decided.
      this.deps.log.error({ err: (e as Error).message }, 'decision receipt could not be written');
      if (a.claimedJti) void this.deps.replay?.finish(a.claimedJti, '').catch(() => undefined);
      const silence = this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', a.route);
      this.announce(a, silence, true, undefined);
      a.credential = undefined;
      return { attempt: a, verdict: { decision: silence, enforced: true, forward: false } };
    }
  }

  private make(reason: Reason, detail: string, route?: Route): Decision {
    return { decision: decisionOf(reason), reason, detail, surface: route?.surface, action: route?.action, route };
  }

  private async decideFor(req: IncomingMessage, a: Attempt): Promise<Decision> {
    const parsed = parseRequest(req, a.arrival, this.permitHeader);
    if (!parsed.ok) { a.close = true; return this.make('REQUEST_INVALID', parsed.detail); }
    const r = parsed.request;
    a.request = r;
    a.token = parsed.token;
    a.idempotencyKey = parsed.idempotencyKey;
    if (r.query !== null) a.querySha256 = sha256(r.query);

    const policy = this.deps.policy();
    if (!policy) return this.make('POLICY_UNAVAILABLE', 'no fresh route maps are loaded');
    a.policy = policy;
    const route = policy.match(r);
    if (!route) return this.make('ROUTE_UNMATCHED', `no route matches ${r.method} ${r.scheme}://${r.host}:${r.port}${r.path}`);
    a.route = route;

    const dest = await this.deps.resolver.resolve(r);
    if (!dest.ok && dest.private) return this.make('DESTINATION_PRIVATE', dest.detail, route);
    if (dest.ok) a.address = dest.address;

    if (route.bindBody && route.authorize !== 'none' && route.authorize !== 'deny') {
      const max = this.deps.config.limits.maxBoundBody;
      if (parsed.contentLength !== undefined && parsed.contentLength > max) {
        a.close = true;
        return this.make('BODY_TOO_LARGE', `the body exceeds max_bound_body (${max} bytes)`, route);
      }
      try {
        a.body = await readBody(req, max);
      } catch (e) {
        if (e instanceof BodyTooLarge) { a.close = true; return this.make('BODY_TOO_LARGE', `the body exceeds max_bound_body (${max} bytes)`, route); }
        throw e;
      }
      a.bodySha256 = sha256(a.body);
    }

    const out = await authorize({
      policy, route, request: r, token: a.token, bodySha256: a.bodySha256, querySha256: a.querySha256, idempotencyKey: a.idempotencyKey,
    }, this.deps);
    a.claimedJti = out.claimedJti;
    return out.decision;
  }

  private async act(req: IncomingMessage, res: ServerResponse, a: Attempt, v: Verdict, receiptId: string): Promise<void> {
    const d = v.decision;
    const credential = a.credential;
    if (!v.forward || !a.request) {
      send(res, blockedResponse(d, receiptId), a.close);
      return;
    }
    if (!a.address) {
      const r = await this.deps.resolver.resolve(a.request);
      if (!r.ok) {
        await this.finish(a, receiptId, { status: null, bytesUp: 0, bytesDown: 0, error: r.detail });
        send(res, upstreamFailureResponse(d, receiptId, false, r.detail), true);
        return;
      }
      a.address = r.address;
    }
    const answerHeaders: Record<string, string> = { 'egress-decision': d.decision, 'egress-receipt': receiptId };
    if (!v.enforced) { answerHeaders['egress-enforced'] = 'false'; answerHeaders['egress-reason'] = d.reason; }
    const t0 = process.hrtime.bigint();
    const out = await this.deps.forwarder.forward({
      req, res, request: a.request, address: a.address, body: a.body, drop: this.drop,
      set: credential ? { [credential.header]: credential.value } : undefined, answerHeaders,
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.deps.metrics.upstreamDuration.observe(seconds);
    if (out.error && !out.headersSent) send(res, upstreamFailureResponse(d, receiptId, out.timedOut, 'the upstream request failed'), true);
    else if (out.error) res.destroy();
    await this.finish(a, receiptId, { status: out.status, bytesUp: out.bytesUp, bytesDown: out.bytesDown, error: out.error, durationMs: seconds * 1000 });
  }

  /** Ends a forwarded attempt: releases its permit claim and writes the outcome receipt. Never throws. */
  async finish(a: Attempt, of: string, o: Outcome): Promise<void> {
    if (a.claimedJti) await this.deps.replay?.finish(a.claimedJti, of).catch((e) => this.deps.log.warn({ err: (e as Error).message }, 'replay finish failed'));
    try {
      await this.deps.receipts.append(outcomeReceipt({ of, status: o.status, bytesUp: o.bytesUp, bytesDown: o.bytesDown, durationMs: o.durationMs ?? 0, error: o.error }));
      this.deps.metrics.receipts.inc({ kind: 'outcome' });
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message, of }, 'outcome receipt could not be written');
    }
  }

  private announce(a: Attempt, d: Decision, enforced: boolean, receipt: string | undefined): void {
    announceDecision(this.deps, d, enforced, receipt, { method: a.method, url: a.request?.url ?? null, started: a.started });
  }
}
