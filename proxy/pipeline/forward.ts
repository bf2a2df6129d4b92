/**
 * Stage forward: sends a cleared request upstream with undici and streams the answer back.
 * forward() takes a Clearance (record.ts), which exists only once the decision entry is
 * durable and the verdict said forward. One pool per (origin, checked address): connections
 * go to the address that was checked, never to a fresh lookup.
 */
import type { SecureContext } from 'node:tls';
import { Writable } from 'node:stream';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';
import type { NormalizedRequest } from '../../policy/types.js';
import { answerHeaders, hostHeader, upstreamHeaders } from '../wire/headers.js';
import type { Clearance } from './record.js';

export interface ForwarderOptions {
  upstreamTimeoutMs: number;
  /** Extra CAs (PEM) trusted for upstream TLS, on top of the system roots. */
  upstreamCa: string[];
  /** Lowercased request headers never sent upstream besides the hop-by-hop ones: the permit header and Proxy-Authorization. */
  drop: ReadonlySet<string>;
  connectionsPerOrigin?: number;
}

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  request: NormalizedRequest;
  address: string;
  /** A body already buffered (bind_body); otherwise req is streamed. */
  body?: Buffer;
  /** Headers to set, replacing what the agent sent (brokered credentials). */
  set?: Record<string, string>;
  /** Headers added to the answer (Egress-*). */
  answerHeaders: Record<string, string>;
}

export interface ForwardResult {
  status: number | null;
  bytesUp: number;
  bytesDown: number;
  error?: string;
  timedOut: boolean;
  /** The answer's headers were already sent when the error happened. */
  headersSent: boolean;
}

/** Forwards cleared requests upstream through undici pools pinned to the checked address. */
export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  /** The system roots plus the extra CAs, parsed once (certs/upstream-trust.ts). */
  private readonly tlsContext: SecureContext | undefined;
  constructor(private readonly opts: ForwarderOptions) {
    this.tlsContext = upstreamSecureContext(opts.upstreamCa);
  }

  private pool(r: NormalizedRequest, address: string): Pool {
    const origin = `${r.scheme}://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
    const key = `${origin}|${address}`;
    let p = this.pools.get(key);
    if (!p) {
      const fixed = address;
      const family = fixed.includes(':') ? 6 : 4;
      p = new Pool(origin, {
        connections: this.opts.connectionsPerOrigin ?? 64,
        headersTimeout: this.opts.upstreamTimeoutMs,
        bodyTimeout: this.opts.upstreamTimeoutMs,
        connect: {
          timeout: Math.min(this.opts.upstreamTimeoutMs, 10_000),
          // Every connection of this pool goes to the address the pipeline checked.
          lookup: (_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) => (
            o && o.all ? cb(null, [{ address: fixed, family }]) : cb(null, fixed, family)),
          ...(r.scheme === 'https' ? { servername: r.hostIsIp ? undefined : r.host, ...(this.tlsContext ? { secureContext: this.tlsContext } : {}) } : {}),
        } as object,
      });
      this.pools.set(key, p);
    }
    return p;
  }

  /** Sends `f` upstream under clearance `_cleared` (its proof of a durable decision entry). Never rejects. */
  async forward(_cleared: Clearance, f: ForwardRequest): Promise<ForwardResult> {
    const { req, res, request } = f;
    const headers = upstreamHeaders(req.rawHeaders, this.opts.drop, f.set);
    headers.push('host', hostHeader(request));
    let bytesUp = f.body ? f.body.length : 0;
    let body: Buffer | IncomingMessage | null = f.body ?? null;
    const hasBody = f.body !== undefined || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    if (!f.body && hasBody) {
      req.on('data', (c: Buffer) => { bytesUp += c.length; });
      req.pause();
      body = req;
    }
    const ac = new AbortController();
    // Set when the client went away before the answer's end: the outcome then says so
    // ("client aborted"), not the AbortError that aborting upstream raised.
    let clientAborted = false;
    const onClose = () => { if (!res.writableFinished) { clientAborted = true; ac.abort(); } };
    res.once('close', onClose);
    // The client may have gone while the gate was deciding: its 'close' has already fired.
    if (res.destroyed || res.closed) { clientAborted = true; ac.abort(); }
    let status: number | null = null;
    let bytesDown = 0;
    try {
      await this.pool(request, f.address).stream({
        path: request.query !== null ? `${request.path}?${request.query}` : request.path,
        method: request.method,
        headers,
        body: hasBody ? body : null,
        signal: ac.signal,
      }, ({ statusCode, headers: up }) => {
        status = statusCode;
        res.writeHead(statusCode, { ...answerHeaders(up), ...f.answerHeaders });
        return new Writable({
          write(chunk: Buffer, _enc, cb) {
            bytesDown += chunk.length;
            if (res.write(chunk)) { cb(); return; }
            // Wait for the client to drain — or to go away, which must end the copy too,
            // or the attempt would never finish (and never get its outcome receipt).
            const drained = () => { res.off('close', gone); cb(); };
            const gone = () => { res.off('drain', drained); clientAborted = true; cb(new Error('the client closed the connection')); };
            res.once('drain', drained);
            res.once('close', gone);
          },
          final(cb) { res.end(); cb(); },
        });
      });
      return { status, bytesUp, bytesDown, timedOut: false, headersSent: res.headersSent };
    } catch (e) {
      if (clientAborted) return { status, bytesUp, bytesDown, error: CLIENT_ABORTED, timedOut: false, headersSent: res.headersSent };
      const code = (e as { code?: string }).code ?? (e as Error).name;
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
      return { status, bytesUp, bytesDown, error: errorText(e), timedOut, headersSent: res.headersSent };
    } finally {
      res.off('close', onClose);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
  }
}

/** The outcome error of an attempt whose client went away before the answer's end. */
export const CLIENT_ABORTED = 'client aborted';

function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  return `${code ? `${code}: ` : ''}${err.message ?? String(e)}`.slice(0, 300);
}
