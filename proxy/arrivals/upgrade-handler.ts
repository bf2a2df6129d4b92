/**
 * HTTP/1.1 Upgrade requests (WebSocket), on the proxy port or inside an intercepted CONNECT.
 * The upgrade request is decided by the same stages as any request
 * (RequestPipeline.decideAndRecord: parse → match → destination → authorize → decide →
 * record); only then is it sent to the checked address over a fresh connection, and on
 * `101` the two sockets are spliced untouched until either side closes.
 *
 * Invariant: nothing reaches the upstream before decideAndRecord returned a forward verdict
 * with a durable receipt id; a blocked upgrade gets respond.ts's problem+json answer and its
 * socket is closed. After the splice, bytes are not inspected: the authorization was for the
 * upgraded connection as a whole, and the outcome receipt counts its bytes each way.
 */
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls, { type SecureContext } from 'node:tls';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';
import type { NormalizedRequest } from '../../policy/types.js';
import type { Arrival } from '../pipeline/parse-request.js';
import { hostHeader, upstreamHeaders } from '../pipeline/forward.js';
import type { Outcome, Recorded, RequestPipeline } from './request-handler.js';
import type { DestinationResolver } from '../pipeline/resolve-destination.js';
import { blockedResponse, upstreamFailureResponse } from '../wire/respond.js';
import { writeRaw } from './connect-handler.js';
import type { Splices } from '../wire/splices.js';
import type { Logger } from '../observe/logger.js';

export interface UpgradeDeps {
  pipeline: RequestPipeline;
  resolver: DestinationResolver;
  splices: Splices;
  /** Extra CAs (PEM) trusted for upstream TLS, on top of the system roots. */
  upstreamCa: string[];
  /** Connect plus wait for the origin's answer to the upgrade request. */
  upstreamTimeoutMs: number;
  log: Logger;
}

/** Dropped from a refused upgrade's answer besides the hop-by-hop headers: its body is passed on decoded. */
const ANSWER_DROP: ReadonlySet<string> = new Set(['content-length']);

export class UpgradeHandler {
  private readonly tlsContext: SecureContext | undefined;
  constructor(private readonly deps: UpgradeDeps) {
    this.tlsContext = upstreamSecureContext(deps.upstreamCa);
  }

  /** Handles one 'upgrade' event of an HTTP server. Never throws. */
  async handle(req: IncomingMessage, socket: Duplex, head: Buffer, arrival: Arrival): Promise<void> {
    socket.on('error', () => socket.destroy());
    const rec = await this.deps.pipeline.decideAndRecord(req, arrival);
    const { attempt: a, verdict: v, receiptId } = rec;
    if (receiptId === undefined || !v.forward || !a.request) {
      writeRaw(socket, blockedResponse(v.decision, receiptId));
      return;
    }
    try {
      await this.forward(req, socket, head, rec, a.request, receiptId);
    } catch (e) {
      // Only reached after the decision receipt: the attempt still gets its outcome.
      this.deps.log.error({ err: e }, 'exception forwarding an upgrade');
      socket.destroy();
      await this.deps.pipeline.finish(a, receiptId, { status: null, bytesUp: 0, bytesDown: 0, error: `internal: ${(e as Error).message}` });
    }
  }

  private async forward(req: IncomingMessage, socket: Duplex, head: Buffer, rec: Recorded, r: NormalizedRequest, receiptId: string): Promise<void> {
    const { attempt: a, verdict: v } = rec;
    const finish = (o: Outcome) => this.deps.pipeline.finish(a, receiptId, o);
    let address = a.address;
    if (!address) {
      const again = await this.deps.resolver.resolve(r);
      if (!again.ok) {
        await finish({ status: null, bytesUp: 0, bytesDown: 0, error: again.detail });
        writeRaw(socket, upstreamFailureResponse(v.decision, receiptId, false, again.detail));
        return;
      }
      address = again.address;
    }
    const egress: string[] = ['egress-decision', v.decision.decision, 'egress-receipt', receiptId];
    if (!v.enforced) egress.push('egress-enforced', 'false', 'egress-reason', v.decision.reason);

    const headers = upstreamHeaders(req.rawHeaders, this.deps.pipeline.drop, a.credential ? { [a.credential.header]: a.credential.value } : undefined);
    headers.push('host', hostHeader(r), 'connection', 'Upgrade', 'upgrade', String(req.headers.upgrade ?? ''));
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
      const lines = [`HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}`, ...headerLines(res.rawHeaders), ...pairs(egress), 'connection: close', '', ''];
      socket.write(lines.join('\r\n'));
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
    const lines = ['HTTP/1.1 101 Switching Protocols', ...headerLines(res.rawHeaders), 'connection: Upgrade', `upgrade: ${String(res.headers.upgrade ?? '')}`, ...pairs(egress), '', ''];
    socket.write(lines.join('\r\n'));
    const spliced = await this.deps.splices.splice(socket, upstream, head, upHead);
    await finish({ status: 101, ...spliced, durationMs: ms() });
  }
}

/**
 * `name: value` lines of an origin's answer without hop-by-hop headers, egress-* and
 * Content-Length: a refused upgrade's body is passed on decoded and delimited by the close.
 */
function headerLines(raw: string[]): string[] {
  // The same hop-by-hop rules as every forwarded message (forward.ts); Connection/Upgrade are set anew for a 101.
  return pairs(upstreamHeaders(raw, ANSWER_DROP)).filter((l) => !/^egress-/i.test(l));
}

function pairs(flat: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) out.push(`${flat[i]!}: ${flat[i + 1]!}`);
  return out;
}
