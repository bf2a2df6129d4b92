/**
 * CONNECT (SPEC §4, §11). A host:port that no route can match is refused at CONNECT with a
 * receipt. A tunnel route is decided here, on the permit in Proxy-Authorization, and its bytes
 * are spliced only after a durable PERMIT receipt. Anything else is answered 200 and then
 * intercepted: TLS is terminated with the gate's leaf for the CONNECT host (or the stream is
 * plain HTTP), and every request inside goes through the same RequestPipeline as plain HTTP.
 */
import net from 'node:net';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LeafIssuer } from '../../certs/leaf-issuer.js';
import { parseConnectAuthority } from '../../policy/normalize-request.js';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import type { CompiledPolicy, Decision, NormalizedRequest, Route } from '../../policy/types.js';
import { authorize } from '../pipeline/authorize.js';
import { decide, type Verdict } from '../pipeline/decide.js';
import { decisionReceipt, outcomeReceipt } from '../pipeline/record.js';
import type { PipelineDeps } from './request-handler.js';
import { blockedResponse, upstreamFailureResponse, type BlockedResponse } from '../wire/respond.js';
import { announceDecision } from '../observe/announce-decision.js';
import type { Splices } from '../wire/splices.js';
import { serveOn, sniffAndTerminate } from './terminate-tls.js';
import type { Arrival } from '../pipeline/parse-request.js';

export interface ConnectDeps extends PipelineDeps {
  leafs?: LeafIssuer;
  /** Inner HTTP servers (never listening) fed with tunnel sockets. */
  inner: { https: Server; http: Server };
  /** Where each tunnel socket came from, read by the inner servers' request handler. */
  arrivals: WeakMap<object, Arrival>;
  /** Live tunnel splices, ended at stop. */
  splices: Splices;
}

/** Parses a CONNECT authority with the same host normalization as every request (undefined when invalid). */
export function parseAuthority(authority: string): { host: string; port: number; hostIsIp: boolean } | undefined {
  try {
    return parseConnectAuthority(authority);
  } catch (e) {
    if ((e as { code?: string }).code === 'REQUEST_INVALID') return undefined;
    throw e;
  }
}

/** Writes a prepared answer (respond.ts) on a raw socket that no HTTP server owns any more, and closes it. */
export function writeRaw(socket: Duplex, r: BlockedResponse): void {
  if (socket.destroyed || !socket.writable) { socket.destroy(); return; }
  const head = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Error'}`, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`), 'connection: close', '', ''].join('\r\n');
  socket.end(head + r.body);
}

export class ConnectHandler {
  constructor(private readonly deps: ConnectDeps) {}

  private make(reason: Reason, detail: string, route?: Route): Decision {
    return { decision: decisionOf(reason), reason, detail, surface: route?.surface, action: route?.action, route };
  }

  /**
   * Records a CONNECT-level decision, observed in the decision-duration histogram from the
   * CONNECT's arrival (`started`); undefined when the receipt could not be written.
   */
  private async record(started: bigint, request: NormalizedRequest | undefined, policy: CompiledPolicy | undefined, v: Verdict, spent = false): Promise<string | undefined> {
    this.deps.metrics.decisionDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    try {
      const { id } = await this.deps.receipts.append(decisionReceipt({ policy, request, method: 'CONNECT', subject: this.deps.config.gate.subject, verdict: v, spent }));
      this.deps.metrics.receipts.inc({ kind: 'decision' });
      announceDecision(this.deps, v.decision, v.enforced, id, { method: 'CONNECT', url: request?.url ?? null });
      return id;
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message }, 'CONNECT decision receipt could not be written');
      announceDecision(this.deps, this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', v.decision.route), true, undefined, { method: 'CONNECT', url: request?.url ?? null });
      return undefined;
    }
  }

  private async refuse(started: bigint, socket: Duplex, request: NormalizedRequest | undefined, policy: CompiledPolicy | undefined, d: Decision): Promise<void> {
    const id = await this.record(started, request, policy, { decision: d, enforced: true, forward: false });
    writeRaw(socket, blockedResponse(id ? d : this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', d.route), id));
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    socket.on('error', () => socket.destroy());
    try {
      await this.handleInner(started, req, socket as net.Socket, head);
    } catch (e) {
      this.deps.log.error({ err: e }, 'exception handling CONNECT');
      await this.refuse(started, socket, undefined, undefined, this.make('INTERNAL_ERROR', 'the gate failed while deciding'));
    }
  }

  private async handleInner(started: bigint, req: IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const auth = parseAuthority(req.url ?? '');
    if (!auth) return this.refuse(started, socket, undefined, undefined, this.make('REQUEST_INVALID', 'CONNECT needs host:port'));
    const request: NormalizedRequest = {
      method: 'CONNECT', scheme: 'https', host: auth.host, port: auth.port, path: '', query: null,
      url: `${auth.host.includes(':') ? `[${auth.host}]` : auth.host}:${auth.port}`, hostIsIp: auth.hostIsIp,
    };
    const policy = this.deps.policy();
    if (!policy) return this.refuse(started, socket, request, undefined, this.make('POLICY_UNAVAILABLE', 'no fresh route maps are loaded'));

    const tunnelRoute = policy.matchTunnel(auth.host, auth.port);
    if (tunnelRoute) return this.tunnel(started, req, socket, head, request, policy, tunnelRoute);
    if (!policy.canMatchAuthority(auth.host, auth.port)) {
      return this.refuse(started, socket, request, policy, this.make('ROUTE_UNMATCHED', `no route can match ${request.url}`));
    }
    if (!this.deps.leafs) {
      return this.refuse(started, socket, request, policy, this.make('INTERNAL_ERROR', 'TLS interception is not configured (tls.ca_cert)'));
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const sniffed = await sniffAndTerminate(socket, head, { host: auth.host, leafs: this.deps.leafs, handshakeTimeoutMs: this.deps.config.limits.headerTimeoutMs });
    const tunnel = { host: auth.host, port: auth.port };
    switch (sniffed.kind) {
      case 'tls':
        this.deps.arrivals.set(sniffed.socket, { scheme: 'https', tunnel });
        serveOn(this.deps.inner.https, sniffed.socket);
        return;
      case 'plain':
        this.deps.arrivals.set(sniffed.socket, { scheme: 'http', tunnel });
        serveOn(this.deps.inner.http, sniffed.socket);
        return;
      case 'sni-mismatch':
        await this.record(started, request, policy, { decision: this.make('TLS_SNI_MISMATCH', `TLS SNI names another host than the CONNECT (${sniffed.sni.slice(0, 100)})`), enforced: true, forward: false });
        return;
      case 'closed':
        return;
      default: {
        const never: never = sniffed;
        throw new Error(`unknown sniff result ${String(never)}`);
      }
    }
  }

  /** A tunnel route: decided here on a Bearer permit, then bytes spliced untouched. */
  private async tunnel(started: bigint, req: IncomingMessage, socket: net.Socket, head: Buffer, request: NormalizedRequest, policy: CompiledPolicy, route: Route): Promise<void> {
    const pa = req.headers['proxy-authorization'];
    const token = typeof pa === 'string' && /^Bearer\s+/i.test(pa) ? pa.replace(/^Bearer\s+/i, '').trim() : undefined;
    const dest = await this.deps.resolver.resolve(request);
    if (!dest.ok && dest.private) return this.refuse(started, socket, request, policy, this.make('DESTINATION_PRIVATE', dest.detail, route));
    const out = await authorize({ policy, route, request, token }, this.deps);
    const v = decide(out.decision, this.deps.config.gate.mode);
    const id = await this.record(started, request, policy, v, out.claimedJti !== undefined);
    if (!id) {
      if (out.claimedJti) void this.deps.replay?.finish(out.claimedJti, '').catch(() => undefined);
      writeRaw(socket, blockedResponse(this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', route), undefined));
      return;
    }
    if (!v.forward) { writeRaw(socket, blockedResponse(v.decision, id)); return; }
    const t0 = process.hrtime.bigint();
    const finish = async (o: { status: number | null; bytesUp: number; bytesDown: number; error?: string }): Promise<void> => {
      if (out.claimedJti) await this.deps.replay?.finish(out.claimedJti, id).catch(() => undefined);
      try {
        await this.deps.receipts.append(outcomeReceipt({ ...o, of: id, durationMs: Number(process.hrtime.bigint() - t0) / 1e6 }));
        this.deps.metrics.receipts.inc({ kind: 'outcome' });
      } catch (e) {
        this.deps.log.error({ err: (e as Error).message, of: id }, 'tunnel outcome receipt could not be written');
      }
    };
    if (!dest.ok) {
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: dest.detail });
      writeRaw(socket, upstreamFailureResponse(v.decision, id, false, dest.detail));
      return;
    }
    const connected = await connectUpstream(dest.address, request.port, Math.min(this.deps.config.limits.upstreamTimeoutMs, 10_000), socket);
    if (!connected.ok) {
      // Nothing was spliced: the client gets the upstream failure answer with the receipt id.
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: connected.error });
      writeRaw(socket, upstreamFailureResponse(v.decision, id, connected.timedOut, `the tunnel to ${request.url} could not be opened (${connected.error})`));
      return;
    }
    const extra = v.enforced ? '' : `egress-enforced: false\r\negress-reason: ${v.decision.reason}\r\n`;
    socket.write(`HTTP/1.1 200 Connection Established\r\negress-decision: ${v.decision.decision}\r\negress-receipt: ${id}\r\n${extra}\r\n`);
    const spliced = await this.deps.splices.splice(socket, connected.socket, head);
    await finish({ status: 200, ...spliced });
  }
}

type Connected = { ok: true; socket: net.Socket } | { ok: false; error: string; timedOut: boolean };

/** Opens a TCP connection to the checked address; gives up when `client` goes away or after `timeoutMs`. Never rejects. */
function connectUpstream(address: string, port: number, timeoutMs: number, client: Duplex): Promise<Connected> {
  return new Promise((resolve) => {
    const upstream = net.connect({ host: address, port });
    const done = (r: Connected): void => {
      clearTimeout(timer);
      upstream.off('error', onError);
      client.off('close', onClientGone);
      if (!r.ok) upstream.destroy();
      resolve(r);
    };
    const onError = (e: Error): void => done({ ok: false, error: `${(e as { code?: string }).code ?? 'error'}: ${e.message}`.slice(0, 300), timedOut: false });
    const onClientGone = (): void => done({ ok: false, error: 'the client closed before the upstream answered', timedOut: false });
    const timer = setTimeout(() => done({ ok: false, error: `ETIMEDOUT: no connection within ${timeoutMs} ms`, timedOut: true }), timeoutMs);
    upstream.once('connect', () => done({ ok: true, socket: upstream }));
    upstream.once('error', onError);
    client.once('close', onClientGone);
  });
}
