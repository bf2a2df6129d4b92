/**
 * CONNECT (SPEC §4, §11), decided by the same chain as every request (decideConnect): a
 * tunnel route is decided here on the permit in Proxy-Authorization and its bytes spliced
 * untouched; a refusal is answered with its receipt; anything else is intercepted
 * (interception.ts) and every request inside is decided on its own.
 *
 * Invariant: a tunnel route's bytes are spliced only with the Clearance that
 * Recorder.decision issues for a durable, forwarded decision.
 */
import type net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import type { Decision } from '../../policy/types.js';
import type { Attempt, DecisionChain } from '../pipeline/decision-chain.js';
import type { Arrival } from '../pipeline/parse-request.js';
import type { Clearance, Recorder } from '../pipeline/record.js';
import { connectAddress, type DestinationResolver } from '../pipeline/resolve-destination.js';
import type { Logger } from '../../runtime/logger.js';
import { connectUpstream } from '../wire/connect-upstream.js';
import { blockedResponse, egressHeaders, upstreamFailureResponse } from '../wire/respond.js';
import type { Splices } from '../wire/splices.js';
import { rawHead, writeRaw } from '../wire/write-raw.js';
import type { TurnEnd } from '../lifecycle/connection-turns.js';
import type { Intercepted, Interception } from './interception.js';

export interface ConnectDeps {
  chain: DecisionChain;
  recorder: Recorder;
  resolver: DestinationResolver;
  /** Absent when no CA is configured (tls.ca_cert): an intercepted CONNECT is then INTERNAL_ERROR. */
  interception?: Interception;
  splices: Splices;
  upstreamTimeoutMs: number;
  log: Logger;
  /** `permits.request_url`, named in denials a permit would cure (SPEC §7). */
  permitRequest?: string;
}

function make(reason: Reason, detail: string): Decision {
  return { decision: decisionOf(reason), reason, detail };
}

/** Longest wait for a tunnel route's upstream TCP connection. */
const TUNNEL_CONNECT_MAX_MS = 10_000;

/** Handles CONNECT requests of the proxy listener. */
export class ConnectHandler {
  constructor(private readonly deps: ConnectDeps) {}

  /**
   * Handles one 'connect' event: of the proxy server, or of an inner server inside a tunnel
   * (`arrival.tunnel` set), where the chain refuses it REQUEST_INVALID with its receipt. Never throws.
   * Resolves 'open' only when the socket was handed to interception as plain HTTP or TLS: the
   * requests inside then take their turns on it (connection-turns.ts); otherwise 'close'.
   */
  async handle(req: IncomingMessage, socket: Duplex, head: Buffer, arrival: Arrival): Promise<TurnEnd> {
    socket.on('error', () => socket.destroy());
    const pa = req.headers['proxy-authorization'];
    const decided = await this.deps.chain.decideConnect({ authority: req.url ?? '', proxyAuthorization: typeof pa === 'string' ? pa : undefined, arrival });
    let cleared: Clearance | undefined;
    try {
      if (decided.kind === 'intercept') return (await this.intercept(socket as net.Socket, head, decided.attempt)) === 'served' ? 'open' : 'close';
      const rec = await this.deps.recorder.decision(decided);
      if (!rec.clearance) { writeRaw(socket, blockedResponse(rec.verdict.decision, rec.receiptId, undefined, this.deps.permitRequest)); return 'close'; }
      cleared = rec.clearance;
      await this.tunnel(socket, head, cleared);
    } catch (e) {
      this.deps.log.error({ err: e }, 'exception handling CONNECT');
      if (!cleared) { await this.refuse(socket, make('INTERNAL_ERROR', 'the gate failed while handling the CONNECT'), decided.attempt); return 'close'; }
      // After the decision entry: the attempt ends with its outcome, not a second decision.
      socket.destroy();
      await this.deps.recorder.outcome(cleared, { status: null, bytesUp: 0, bytesDown: 0, error: `internal: ${(e as Error).message}` });
    }
    return 'close';
  }

  private async refuse(socket: Duplex, d: Decision, a: Attempt): Promise<void> {
    const r = await this.deps.recorder.refusal({ ...d, route: a.route, surface: a.route?.surface, action: a.route?.action }, a);
    writeRaw(socket, blockedResponse(r.decision, r.receiptId));
  }

  private async intercept(socket: net.Socket, head: Buffer, a: Attempt): Promise<Intercepted | 'refused'> {
    const r = a.request!;
    if (!this.deps.interception) { await this.refuse(socket, make('INTERNAL_ERROR', 'TLS interception is not configured (tls.ca_cert)'), a); return 'refused'; }
    // A host without a cached leaf costs a mint (~7 ms of CPU): a flood of new hosts is refused
    // here, before the 200, with a receipt, rather than allowed to burn the CPU.
    if (!this.deps.interception.admit(r.host)) {
      await this.refuse(socket, make('INTERNAL_ERROR', `too many new hosts at once: certificates for new hosts are minted at a limited rate; retry ${r.url} in a second`), a);
      return 'refused';
    }
    const out = await this.deps.interception.accept(socket, head, { host: r.host, port: r.port });
    if (typeof out === 'object') {
      // The handshake was refused inside TLS: there is no HTTP connection left to answer on.
      await this.deps.recorder.refusal(make('TLS_SNI_MISMATCH', `TLS SNI names another host than the CONNECT (${out.sniMismatch.slice(0, 100)})`), a);
    }
    return out;
  }

  /** A tunnel route: bytes spliced untouched to the checked address, then the outcome recorded. */
  private async tunnel(socket: Duplex, head: Buffer, c: Clearance): Promise<void> {
    const { attempt: a, verdict: v, receiptId } = c;
    const request = a.request!;
    const t0 = process.hrtime.bigint();
    const finish = (o: { status: number | null; bytesUp: number; bytesDown: number; error?: string }) =>
      this.deps.recorder.outcome(c, { ...o, durationMs: Number(process.hrtime.bigint() - t0) / 1e6 });
    const dest = await connectAddress(this.deps.resolver, request, a.address);
    if (!dest.ok) {
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: dest.detail });
      writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, false, dest.detail));
      return;
    }
    const connected = await connectUpstream(dest.address, request.port, Math.min(this.deps.upstreamTimeoutMs, TUNNEL_CONNECT_MAX_MS), socket);
    if (!connected.ok) {
      // Nothing was spliced: the client gets the upstream failure answer with the receipt id.
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: connected.error });
      writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, connected.timedOut, `the tunnel to ${request.url} could not be opened (${connected.error})`));
      return;
    }
    socket.write(rawHead(200, egressHeaders(v, receiptId), 'Connection Established'));
    const spliced = await this.deps.splices.splice(c, socket, connected.socket, head);
    await finish({ status: 200, ...spliced });
  }
}
