/**
 * CONNECT (SPEC §4, §11). A host:port that no route can match is refused at CONNECT with a
 * receipt. A tunnel route is decided here, on the permit in Proxy-Authorization, and its bytes
 * are spliced only after a durable PERMIT receipt. Anything else is answered 200 and then
 * intercepted: TLS is terminated with the gate's leaf for the CONNECT host (or the stream is
 * plain HTTP), and every request inside goes through the same RequestPipeline as plain HTTP.
 */
import net from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LeafIssuer } from '../certs/leaf-issuer.js';
import { decisionOf, type Reason } from '../policy/reasons.js';
import type { CompiledPolicy, Decision, NormalizedRequest, Route } from '../policy/types.js';
import { authorize } from './pipeline/authorize.js';
import { decide, type Verdict } from './pipeline/decide.js';
import { decisionReceipt, outcomeReceipt } from './pipeline/record.js';
import type { PipelineDeps } from './handle-request.js';
import { blockedResponse, type BlockedResponse } from './respond.js';
import { serveOn, sniffAndTerminate } from './tls-intercept.js';
import type { Arrival } from './pipeline/parse-request.js';

export interface ConnectDeps extends PipelineDeps {
  leafs?: LeafIssuer;
  /** Inner HTTP servers (never listening) fed with tunnel sockets. */
  inner: { https: Server; http: Server };
  /** Where each tunnel socket came from, read by the inner servers' request handler. */
  arrivals: WeakMap<object, Arrival>;
}

/** Parses a CONNECT authority: host:port, IPv6 in brackets; the host canonicalized as the URL parser does. */
export function parseAuthority(authority: string): { host: string; port: number; hostIsIp: boolean } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]/?#@\s]+):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  let host: string;
  try { host = new URL(`http://${m[1]}/`).hostname; } catch { return undefined; }
  if (host.startsWith('[')) host = host.slice(1, -1);
  host = host.replace(/\.$/, '');
  return { host, port, hostIsIp: net.isIP(host) !== 0 };
}

function writeRaw(socket: Duplex, r: BlockedResponse): void {
  const reasonPhrase = r.status === 403 ? 'Forbidden' : r.status === 400 ? 'Bad Request' : r.status === 503 ? 'Service Unavailable' : 'Error';
  const head = [`HTTP/1.1 ${r.status} ${reasonPhrase}`, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`), 'connection: close', '', ''].join('\r\n');
  socket.end(head + r.body);
}

export class ConnectHandler {
  constructor(private readonly deps: ConnectDeps) {}

  private make(reason: Reason, detail: string, route?: Route): Decision {
    return { decision: decisionOf(reason), reason, detail, surface: route?.surface, action: route?.action, route };
  }

  /** Records a CONNECT-level decision; undefined when the receipt could not be written. */
  private async record(request: NormalizedRequest | undefined, policy: CompiledPolicy | undefined, v: Verdict, spent = false): Promise<string | undefined> {
    try {
      const { id } = await this.deps.receipts.append(decisionReceipt({ policy, request, method: 'CONNECT', subject: this.deps.config.gate.subject, verdict: v, spent }));
      this.deps.metrics.receipts.inc({ kind: 'decision' });
      const d = v.decision;
      this.deps.metrics.decisions.inc({ decision: d.decision, reason: d.reason, surface: d.surface ?? '', action: d.action ?? '', enforced: String(v.enforced) });
      const line = { msg: 'egress.decision', decision: d.decision, reason: d.reason, enforced: v.enforced, receipt: id, surface: d.surface ?? null, action: d.action ?? null, method: 'CONNECT', url: request?.url ?? null, detail: d.detail };
      if (d.decision === 'PERMIT') this.deps.log.info(line); else this.deps.log.warn(line);
      return id;
    } catch (e) {
      this.deps.log.error({ err: (e as Error).message }, 'CONNECT decision receipt could not be written');
      return undefined;
    }
  }

  private async refuse(socket: Duplex, request: NormalizedRequest | undefined, policy: CompiledPolicy | undefined, d: Decision): Promise<void> {
    const id = await this.record(request, policy, { decision: d, enforced: true, forward: false });
    writeRaw(socket, blockedResponse(id ? d : this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', d.route), id));
  }

  async handle(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    try {
      await this.handleInner(req, socket as net.Socket, head);
    } catch (e) {
      this.deps.log.error({ err: e }, 'exception handling CONNECT');
      await this.refuse(socket, undefined, undefined, this.make('INTERNAL_ERROR', 'the gate failed while deciding'));
    }
  }

  private async handleInner(req: IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const auth = parseAuthority(req.url ?? '');
    if (!auth) return this.refuse(socket, undefined, undefined, this.make('REQUEST_INVALID', 'CONNECT needs host:port'));
    const request: NormalizedRequest = {
      method: 'CONNECT', scheme: 'https', host: auth.host, port: auth.port, path: '', query: null,
      url: `${auth.host.includes(':') ? `[${auth.host}]` : auth.host}:${auth.port}`, hostIsIp: auth.hostIsIp,
    };
    const policy = this.deps.policy();
    if (!policy) return this.refuse(socket, request, undefined, this.make('POLICY_UNAVAILABLE', 'no fresh route maps are loaded'));

    const tunnelRoute = policy.matchTunnel(auth.host, auth.port);
    if (tunnelRoute) return this.tunnel(req, socket, head, request, policy, tunnelRoute);
    if (!policy.canMatchAuthority(auth.host, auth.port)) {
      return this.refuse(socket, request, policy, this.make('ROUTE_UNMATCHED', `no route can match ${request.url}`));
    }
    if (!this.deps.leafs) {
      return this.refuse(socket, request, policy, this.make('INTERNAL_ERROR', 'TLS interception is not configured (tls.ca_cert)'));
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
        await this.record(request, policy, { decision: this.make('TLS_SNI_MISMATCH', `TLS SNI names another host than the CONNECT (${sniffed.sni.slice(0, 100)})`), enforced: true, forward: false });
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
  private async tunnel(req: IncomingMessage, socket: net.Socket, head: Buffer, request: NormalizedRequest, policy: CompiledPolicy, route: Route): Promise<void> {
    const pa = req.headers['proxy-authorization'];
    const token = typeof pa === 'string' && /^Bearer\s+/i.test(pa) ? pa.replace(/^Bearer\s+/i, '').trim() : undefined;
    const dest = await this.deps.resolver.resolve(request);
    if (!dest.ok && dest.private) return this.refuse(socket, request, policy, this.make('DESTINATION_PRIVATE', dest.detail, route));
    const out = await authorize({ policy, route, request, token }, this.deps);
    const v = decide(out.decision, this.deps.config.gate.mode);
    const id = await this.record(request, policy, v, out.claimedJti !== undefined);
    if (!id) {
      if (out.claimedJti) void this.deps.replay?.finish(out.claimedJti, '').catch(() => undefined);
      writeRaw(socket, blockedResponse(this.make('RECEIPT_UNAVAILABLE', 'the decision could not be recorded', route), undefined));
      return;
    }
    if (!v.forward) { writeRaw(socket, blockedResponse(v.decision, id)); return; }
    if (!dest.ok) {
      writeRaw(socket, blockedResponse(this.make('INTERNAL_ERROR', dest.detail, route), id));
      return;
    }
    const t0 = Date.now();
    const upstream = net.connect({ host: dest.address, port: request.port });
    let up = head.length;
    let down = 0;
    let error: string | undefined;
    upstream.once('connect', () => {
      const extra = v.enforced ? '' : `egress-enforced: false\r\negress-reason: ${v.decision.reason}\r\n`;
      socket.write(`HTTP/1.1 200 Connection Established\r\negress-decision: ${v.decision.decision}\r\negress-receipt: ${id}\r\n${extra}\r\n`);
      if (head.length) upstream.write(head);
      socket.on('data', (c: Buffer) => { up += c.length; });
      upstream.on('data', (c: Buffer) => { down += c.length; });
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.on('error', (e) => { error = `${(e as { code?: string }).code ?? 'error'}: ${e.message}`; socket.destroy(); });
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
    await new Promise<void>((r) => upstream.once('close', () => r()));
    if (out.claimedJti) await this.deps.replay?.finish(out.claimedJti, id).catch(() => undefined);
    try {
      await this.deps.receipts.append(outcomeReceipt({ of: id, status: error ? null : 200, bytesUp: up, bytesDown: down, durationMs: Date.now() - t0, error }));
      this.deps.metrics.receipts.inc({ kind: 'outcome' });
    } catch { /* logged by the log itself; the decision receipt is durable */ }
  }
}
