/**
 * Stage forward: sends a cleared request upstream with undici and streams the answer back.
 * forward() takes a Clearance (record.ts), which exists only once the decision entry is
 * durable and the verdict said forward. One pool per (origin, checked address): connections
 * go to the address that was checked, never to a fresh lookup.
 */
import type { SecureContext } from 'node:tls';
import type { Readable, Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Pool, util, type Dispatcher } from 'undici';
import { upstreamSecureContext } from '../../certs/upstream-trust.js';
import type { NormalizedRequest } from '../../policy/types.js';
import { answerHeaders, hostHeader, upstreamHeaders } from '../wire/headers.js';
import type { AgentRequest } from '../arrivals/request-handler.js';
import type { AgentResponse } from '../wire/respond.js';
import { h2UpstreamFields } from './parse-h2.js';
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
  req: AgentRequest;
  res: AgentResponse;
  /** The agent's request is an HTTP/2 stream: upstream over h2 when the origin offers it, trailers relayed. */
  h2?: boolean;
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

  /**
   * The pool for (origin, checked address). HTTP/2 agents get their own pools, which offer h2
   * by ALPN (undici allowH2) and fall back to HTTP/1.1; HTTP/1.1 agents keep HTTP/1.1 pools.
   */
  private pool(r: NormalizedRequest, address: string, h2: boolean): Pool {
    const origin = `${r.scheme}://${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
    const key = h2 ? `${origin}|${address}|h2` : `${origin}|${address}`;
    let p = this.pools.get(key);
    if (!p) {
      const fixed = address;
      const family = fixed.includes(':') ? 6 : 4;
      p = new Pool(origin, {
        connections: this.opts.connectionsPerOrigin ?? 64,
        ...(h2 ? { allowH2: true } : {}),
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
    const h2 = f.h2 === true;
    const headers = upstreamHeaders(h2 ? h2UpstreamFields(req.rawHeaders) : req.rawHeaders, this.opts.drop, f.set);
    // An h2 agent that reads trailers (gRPC) says so; the gate relays them (trailers below).
    if (h2 && req.headers.te === 'trailers') headers.push('te', 'trailers');
    headers.push('host', hostHeader(request));
    let bytesUp = f.body ? f.body.length : 0;
    let body: Buffer | Readable | null = f.body ?? null;
    const hasBody = f.body !== undefined || (h2
      ? !(req as Http2ServerRequest).stream.endAfterHeaders
      : req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
    // Set when the client went away before the answer's end: the outcome then says so
    // ("client aborted"), not the AbortError that aborting upstream raised.
    let clientAborted = false;
    let ended = false;
    let status: number | null = null;
    let bytesDown = 0;
    let resumeUp: (() => void) | undefined;
    let abortUp: ((e: Error) => void) | undefined;
    const out: Writable = res;
    const onClose = () => { if (!ended) { clientAborted = true; abortUp?.(new Error(CLIENT_ABORTED)); } };
    out.once('close', onClose);
    // An h2 client's RST_STREAM ends the request body as if it were whole: abort before that end is read.
    if (h2) (req as Http2ServerRequest).once('aborted', onClose);
    const done = (r: Omit<ForwardResult, 'bytesUp' | 'bytesDown' | 'headersSent'>): ForwardResult => {
      out.off('close', onClose);
      if (h2) (req as Http2ServerRequest).off('aborted', onClose);
      return { ...r, bytesUp, bytesDown, headersSent: res.headersSent };
    };
    // The client may have gone while the gate was deciding (a cancelled stream): nothing leaves.
    if (clientGone(res, h2)) return done({ status: null, error: CLIENT_ABORTED, timedOut: false });
    if (!f.body && hasBody) {
      req.on('data', (c: Buffer) => { bytesUp += c.length; });
      req.pause();
      body = req;
    }
    try {
      const trailers = await new Promise<Record<string, string | string[]>>((resolve, reject) => {
        this.pool(request, f.address, h2).dispatch({
          path: request.query !== null ? `${request.path}?${request.query}` : request.path,
          method: request.method,
          headers,
          body: hasBody ? body : null,
        }, {
          onConnect(abort: (e: Error) => void) {
            if (clientAborted) { abort(new Error(CLIENT_ABORTED)); return; }
            abortUp = abort;
          },
          onHeaders(statusCode: number, raw: Buffer[], resume: () => void) {
            if (statusCode < 200) return true;
            status = statusCode;
            const up = { ...answerHeaders(util.parseHeaders(raw)), ...f.answerHeaders };
            if (h2 && up['grpc-status'] !== undefined) {
              // A gRPC Trailers-Only answer (an error status, no message): held so that it goes out
              // as one HEADERS frame that ends the stream, as gRPC clients read it.
              res.statusCode = statusCode;
              for (const [k, v] of Object.entries(up)) res.setHeader(k, v);
            } else {
              res.writeHead(statusCode, up);
            }
            resumeUp = resume;
            return true;
          },
          onData(chunk: Buffer) {
            bytesDown += chunk.length;
            if (out.write(chunk)) return true;
            // Resumed once the client drains; a client that goes away instead aborts (onClose).
            out.once('drain', () => resumeUp?.());
            return false;
          },
          onComplete(raw: Buffer[] | Record<string, string | string[]> | null) { resolve(trailersOf(raw)); },
          onError(e: Error) { reject(e); },
        } as unknown as Dispatcher.DispatchHandler);
      });
      ended = true;
      const t = answerHeaders(trailers);
      if (Object.keys(t).length > 0) res.addTrailers(t as Record<string, string>);
      res.end();
      return done({ status, timedOut: false });
    } catch (e) {
      if (clientAborted) return done({ status, error: CLIENT_ABORTED, timedOut: false });
      const code = (e as { code?: string }).code ?? (e as Error).name;
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
      return done({ status, error: errorText(e), timedOut });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
  }
}

/** The client's side is gone: a closed HTTP/1.1 response, or a closed or reset HTTP/2 stream. */
function clientGone(res: AgentResponse, h2: boolean): boolean {
  if (h2) { const s = (res as Http2ServerResponse).stream; return s.destroyed || s.closed; }
  return (res as ServerResponse).destroyed || (res as ServerResponse).closed;
}

/** Trailers as undici hands them over: raw [name, value…] over HTTP/1.1, an object over HTTP/2. */
function trailersOf(raw: Buffer[] | Record<string, string | string[]> | null): Record<string, string | string[]> {
  if (!raw) return {};
  return Array.isArray(raw) ? util.parseHeaders(raw) as Record<string, string | string[]> : raw;
}

/** The outcome error of an attempt whose client went away before the answer's end. */
export const CLIENT_ABORTED = 'client aborted';

function errorText(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  return `${code ? `${code}: ` : ''}${err.message ?? String(e)}`.slice(0, 300);
}
