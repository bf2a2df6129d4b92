/**
 * An HTTP request — on the proxy port, or inside an intercepted CONNECT — from arrival to its
 * last receipt: the decision chain decides it, record.ts records it, and then either
 * respond.ts answers it (blocked) or the forwarder sends it upstream and its outcome is
 * recorded.
 *
 * Invariant: forward() takes a Clearance, which only Recorder.decision makes, and only after
 * the decision entry is durable and the verdict said forward. Every other path answers.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { DecisionChain } from '../pipeline/decision-chain.js';
import type { Forwarder, ForwardResult } from '../pipeline/forward.js';
import type { Arrival } from '../pipeline/parse-request.js';
import { readBody, type BodySource } from '../pipeline/read-body.js';
import type { Clearance, Recorder } from '../pipeline/record.js';
import { connectAddress, type DestinationResolver } from '../pipeline/resolve-destination.js';
import type { TurnEnd } from '../lifecycle/connection-turns.js';
import type { GateMetrics } from '../observe/metrics.js';
import {
  blockedResponse, egressHeaders, grpcBlockedResponse, grpcUpstreamFailureResponse, isGrpcCall, send, upstreamFailureResponse, type AgentResponse,
} from '../wire/respond.js';

/** An agent's request: HTTP/1.1 (node:http), or an HTTP/2 stream (node:http2's compatibility API). */
export type AgentRequest = IncomingMessage | Http2ServerRequest;

export interface RequestHandlerDeps {
  chain: DecisionChain;
  recorder: Recorder;
  resolver: DestinationResolver;
  forwarder: Forwarder;
  metrics: GateMetrics;
  /** `permits.request_url`, named in denials a permit would cure (SPEC §7). */
  permitRequest?: string;
  /**
   * Keeps a forwarded request's outcome write in flight (the gate: its drain at stop) once the
   * answer is complete, so the connection's next request does not wait for that commit; without
   * it the turn waits for the outcome.
   */
  trackOutcome?: (write: Promise<void>) => void;
}

/** The body of a request the gate is handling, read only if the chain needs it whole. */
export function bodyOf(req: AgentRequest): BodySource {
  const cl = req.headers['content-length'];
  return { contentLength: cl !== undefined && /^\d{1,15}$/.test(cl) ? Number(cl) : undefined, read: (max) => readBody(req, max) };
}

/** The client asked to close after this request (RFC 9112 §9.3): Connection: close, or HTTP/1.0 without keep-alive. */
export function clientCloses(req: Pick<IncomingMessage, 'headers' | 'httpVersion'>): boolean {
  const c = req.headers.connection;
  const tokens = (Array.isArray(c) ? c.join(',') : c ?? '').split(',').map((t) => t.trim().toLowerCase());
  return tokens.includes('close') || (req.httpVersion === '1.0' && !tokens.includes('keep-alive'));
}

/** Handles HTTP requests of the proxy listener and of intercepted tunnels. */
export class RequestHandler {
  constructor(private readonly deps: RequestHandlerDeps) {}

  /**
   * Handles one request. Never throws. Resolves 'close' when the connection ends with this
   * answer (a refusal that closes, an upstream failure, the client's own Connection: close):
   * nothing pipelined behind it may then be decided (connection-turns.ts).
   */
  async handle(req: AgentRequest, res: AgentResponse, arrival: Arrival): Promise<TurnEnd> {
    const decided = await this.deps.chain.decideRequest({ head: req, arrival, body: bodyOf(req) });
    const rec = await this.deps.recorder.decision(decided);
    if (!rec.clearance) {
      // Unrecorded (RECEIPT_UNAVAILABLE) answers close the connection: the body may be unread.
      const close = rec.attempt.close || rec.receiptId === undefined;
      const d = rec.verdict.decision;
      send(res, isGrpcCall(arrival.h2, req.headers['content-type']) ? grpcBlockedResponse(d, rec.receiptId) : blockedResponse(d, rec.receiptId, undefined, this.deps.permitRequest), close);
      return close || clientCloses(req) ? 'close' : 'open';
    }
    const kept = await this.forward(req, res, rec.clearance, arrival.h2 === true);
    return kept && !clientCloses(req) ? 'open' : 'close';
  }

  /** Forwards a cleared request; false when the answer closed the connection. */
  private async forward(req: AgentRequest, res: AgentResponse, c: Clearance, h2: boolean): Promise<boolean> {
    const { attempt: a, verdict: v, receiptId } = c;
    const request = a.request!;
    // A gRPC client reads a failure from trailers, not from a 502's body (SPEC §7).
    const failure = isGrpcCall(h2, req.headers['content-type'])
      ? (timedOut: boolean, _detail: string) => grpcUpstreamFailureResponse(v.decision, receiptId, timedOut)
      : (timedOut: boolean, detail: string) => upstreamFailureResponse(v.decision, receiptId, timedOut, detail);
    const dest = await connectAddress(this.deps.resolver, request, a.address);
    if (!dest.ok) {
      await this.deps.recorder.outcome(c, { status: null, bytesUp: 0, bytesDown: 0, error: dest.detail });
      send(res, failure(false, dest.detail), true);
      return false;
    }
    const credential = a.credential;
    const t0 = process.hrtime.bigint();
    const out = await this.deps.forwarder.forward(c, {
      req, res, h2, request, address: dest.address, body: a.body,
      set: credential ? { [credential.header]: credential.value } : undefined, answerHeaders: egressHeaders(v, receiptId),
    }).catch((e: unknown): ForwardResult => ({
      // A bug past the decision (the forwarder never rejects by design): the request may be
      // half sent, so it fails like an upstream error, with its outcome entry, and the gate
      // stays up — an h2 stream has no connection turn to catch it.
      status: null, bytesUp: 0, bytesDown: 0, timedOut: false, headersSent: res.headersSent,
      error: `internal error while forwarding: ${e instanceof Error ? e.message : String(e)}`,
    }));
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.deps.metrics.upstreamDuration.observe(seconds);
    if (out.error && !out.headersSent) send(res, failure(out.timedOut, 'the upstream request failed'), true);
    else if (out.error) res.destroy();
    const outcome = this.deps.recorder.outcome(c, { status: out.status, bytesUp: out.bytesUp, bytesDown: out.bytesDown, error: out.error, durationMs: seconds * 1000 });
    if (this.deps.trackOutcome) this.deps.trackOutcome(outcome);
    else await outcome;
    return out.error === undefined;
  }
}
