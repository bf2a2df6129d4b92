/**
 * HTTP/1.1 Upgrade requests (WebSocket), on the proxy port or inside an intercepted CONNECT.
 * The upgrade request is decided by the one chain like any request and recorded; only then is
 * it sent to the checked address over a fresh connection, and on `101` the two sockets are
 * spliced untouched until either side closes.
 *
 * Invariant: nothing reaches the upstream without the Clearance Recorder.decision issues for
 * a durable, forwarded decision; a blocked upgrade gets respond.ts's problem+json answer and
 * its socket is closed. After the splice, bytes are not inspected: the authorization was for the
 * upgraded connection as a whole, and the outcome receipt counts its bytes each way.
 */
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';
import type { NormalizedRequest } from '../../policy/types.js';
import type { DecisionChain } from '../pipeline/decision-chain.js';
import type { Arrival } from '../pipeline/parse-request.js';
import type { Clearance, Outcome, Recorder } from '../pipeline/record.js';
import { connectAddress, type DestinationResolver } from '../pipeline/resolve-destination.js';
import type { Logger } from '../../runtime/logger.js';
import { hostHeader, upstreamHeaders } from '../wire/headers.js';
import { blockedResponse, egressHeaders, upstreamFailureResponse } from '../wire/respond.js';
import type { Splices } from '../wire/splices.js';
import { rawHead, writeRaw } from '../wire/write-raw.js';
import { bodyOf } from './request-handler.js';

export interface UpgradeDeps {
  chain: DecisionChain;
  recorder: Recorder;
  /** The permit header and Proxy-Authorization (wire/headers.ts gateOwnHeaders). */
  drop: ReadonlySet<string>;
  resolver: DestinationResolver;
  splices: Splices;
  /** Extra CAs (PEM) trusted for upstream TLS, on top of the system roots. */
  upstreamCa: string[];
  /** Connect plus wait for the origin's answer to the upgrade request. */
  upstreamTimeoutMs: number;
  log: Logger;
  /** `permits.request_url`, named in denials a permit would cure (SPEC §7). */
  permitRequest?: string;
}

/** Dropped from a refused upgrade's answer besides the hop-by-hop headers: its body is passed on decoded. */
const ANSWER_DROP: ReadonlySet<string> = new Set(['content-length']);

/** Handles HTTP/1.1 Upgrade requests (WebSocket) of the proxy listener and of intercepted tunnels. */
export class UpgradeHandler {
  private readonly tlsContext: SecureContext | undefined;
  constructor(private readonly deps: UpgradeDeps) {
    this.tlsContext = upstreamSecureContext(deps.upstreamCa);
  }

  /** Handles one 'upgrade' event of an HTTP server. Never throws. */
  async handle(req: IncomingMessage, socket: Duplex, head: Buffer, arrival: Arrival): Promise<void> {
    socket.on('error', () => socket.destroy());
    const decided = await this.deps.chain.decideRequest({ head: req, arrival, body: bodyOf(req) });
    const rec = await this.deps.recorder.decision(decided);
    if (!rec.clearance) {
      writeRaw(socket, blockedResponse(rec.verdict.decision, rec.receiptId, undefined, this.deps.permitRequest));
      return;
    }
    const c = rec.clearance;
    try {
      await this.forward(req, socket, head, c);
    } catch (e) {
      // Only reached after the decision entry: the attempt still gets its outcome.
      this.deps.log.error({ err: e }, 'exception forwarding an upgrade');
      socket.destroy();
      await this.deps.recorder.outcome(c, { status: null, bytesUp: 0, bytesDown: 0, error: `internal: ${(e as Error).message}` });
    }
  }

  private async forward(req: IncomingMessage, socket: Duplex, head: Buffer, c: Clearance): Promise<void> {
    const { attempt: a, verdict: v, receiptId } = c;
    const r: NormalizedRequest = a.request!;
    const finish = (o: Outcome) => this.deps.recorder.outcome(c, o);
    const dest = await connectAddress(this.deps.resolver, r, a.address);
    if (!dest.ok) {
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: dest.detail });
      writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, false, dest.detail));
      return;
    }
    const address = dest.address;
    const egress = egressHeaders(v, receiptId);

    const headers = upstreamHeaders(req.rawHeaders, this.deps.drop, a.credential ? { [a.credential.header]: a.credential.value } : undefined);
    // parse-request let only `Upgrade: websocket` through.
    headers.push('host', hostHeader(r), 'connection', 'Upgrade', 'upgrade', 'websocket');
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const target = address;
    const up = http.request({
      method: r.method, path: r.query !== null ? `${r.path}?${r.query}` : r.path, headers, setHost: false,
      // The connection goes to the address the pipeline checked, never to a fresh lookup. No
      // `agent` (agent: false would make Node ignore createConnection); host/port name the
      // checked address too, so even a default agent could reach nothing else.
      host: target, port: r.port,
      createConnection: () => (r.scheme === 'https'
        ? tls.connect({ host: target, port: r.port, servername: r.hostIsIp ? undefined : r.host, ALPNProtocols: ['http/1.1'], ...(this.tlsContext ? { secureContext: this.tlsContext } : {}) })
        : net.connect({ host: target, port: r.port })),
    });
    const answer = await new Promise<
      | { kind: 'upgrade'; res: IncomingMessage; upstream: Duplex; upHead: Buffer }
      | { kind: 'response'; res: IncomingMessage }
      | { kind: 'error'; error: string; timedOut: boolean }
    >((resolve) => {
      const timer = setTimeout(() => { resolve({ kind: 'error', error: `ETIMEDOUT: no answer within ${this.deps.upstreamTimeoutMs} ms`, timedOut: true }); up.destroy(); }, this.deps.upstreamTimeoutMs);
      const done = (x: Parameters<typeof resolve>[0]) => { clearTimeout(timer); socket.off('close', onGone); resolve(x); };
      const onGone = () => { done({ kind: 'error', error: 'the client closed before the upstream answered', timedOut: false }); up.destroy(); };
      up.once('upgrade', (res, upstream, upHead) => done({ kind: 'upgrade', res, upstream, upHead }));
      up.once('response', (res) => done({ kind: 'response', res }));
      up.once('error', (e) => {
        const code = (e as { code?: string }).code;
        done({ kind: 'error', error: `${code ? `${code}: ` : ''}${e.message}`.slice(0, 300), timedOut: false });
      });
      socket.once('close', onGone);
      up.end();
    });

    if (answer.kind === 'error') {
      await finish({ status: null, bytesUp: 0, bytesDown: 0, error: answer.error, durationMs: ms() });
      writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, answer.timedOut, 'the upstream upgrade request failed'));
      return;
    }
    if (answer.kind === 'response') {
      // The origin refused the upgrade: pass its answer on and close. The client's socket is
      // never read again, so no second request can slip past the pipeline on it.
      const res = answer.res;
      socket.write(rawHead(res.statusCode ?? 502, [...originHeaders(res.rawHeaders), ...Object.entries(egress).flat(), 'connection', 'close'], res.statusMessage ?? ''));
      let bytesDown = 0;
      res.on('data', (c: Buffer) => { bytesDown += c.length; socket.write(c); });
      const error = await new Promise<string | undefined>((resolve) => {
        res.once('end', () => resolve(undefined));
        res.once('error', (e) => resolve(`upstream: ${e.message}`));
        res.once('close', () => resolve(res.complete ? undefined : 'upstream: closed before the answer was complete'));
      });
      socket.end();
      await finish({ status: res.statusCode ?? null, bytesUp: 0, bytesDown, error, durationMs: ms() });
      return;
    }
    const { res, upstream, upHead } = answer;
    if (String(res.headers.upgrade ?? '').trim().toLowerCase() !== 'websocket') {
      // Decided was a WebSocket: an origin that switches to anything else is not spliced.
      upstream.destroy();
      await finish({ status: 101, bytesUp: 0, bytesDown: 0, error: `the origin switched to another protocol than websocket (${String(res.headers.upgrade ?? '').slice(0, 50)})`, durationMs: ms() });
      writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, false, 'the origin switched to another protocol than websocket'));
      return;
    }
    socket.write(rawHead(101, [...originHeaders(res.rawHeaders), 'connection', 'Upgrade', 'upgrade', 'websocket', ...Object.entries(egress).flat()], 'Switching Protocols'));
    const spliced = await this.deps.splices.splice(c, socket, upstream, head, upHead);
    await finish({ status: 101, ...spliced, durationMs: ms() });
  }
}

/**
 * An origin's answer headers to an upgrade as a flat list, without hop-by-hop headers,
 * egress-* and Content-Length: a refused upgrade's body is passed on decoded and delimited by
 * the close; Connection/Upgrade are set anew for a 101. The same hop-by-hop rules as every
 * forwarded message (wire/headers.ts).
 */
function originHeaders(raw: string[]): string[] {
  const kept = upstreamHeaders(raw, ANSWER_DROP);
  const out: string[] = [];
  for (let i = 0; i < kept.length; i += 2) if (!/^egress-/i.test(kept[i]!)) out.push(kept[i]!, kept[i + 1]!);
  return out;
}
