/**
 * HTTP/2 inside interception (ALPN `h2`): one node:http2 server (never listening) takes the
 * terminated TLS sockets, and every stream is handed, with its connection's arrival, to the
 * same request handler as an HTTP/1.1 request: one decision, its receipts, and forward() only
 * with a Clearance, per stream.
 *
 * Streams are concurrent (RFC 9113 §5): there are no connection turns. Each stream's answer
 * goes on its own stream, only after its own decision entry is durable, so nothing decided can
 * overtake anything: no stream waits for another, and no stream's bytes are ever read as part
 * of another's (h2 frames each stream; a refusal ends its stream only, RFC 9113 §8.1.1).
 *
 * Limits (the reset flood, CVE-2023-44487): at most {@link H2_LIMITS}.maxConcurrentStreams
 * streams are open (SETTINGS_MAX_CONCURRENT_STREAMS) and, separately, at most as many are being
 * handled (decided, recorded, forwarded) at once per connection: a client that resets streams
 * does not reset the gate's work, so a stream arriving while that many are still handled waits,
 * undecided, in a queue; a queue past maxQueuedStreams is a flood and the connection is closed
 * (GOAWAY ENHANCE_YOUR_CALM). A stream cancelled while queued is never decided; one cancelled
 * after its decision is not forwarded (forward.ts) and its outcome receipt says `client aborted`.
 * A HEADERS frame past SETTINGS_MAX_CONCURRENT_STREAMS, and any other protocol error nghttp2
 * finds, is a connection error: GOAWAY, and the stream that broke the limit never exists.
 * Every such close is reported by cause ({@link H2CloseCause}) for the metric and the log.
 */
import http2 from 'node:http2';
import type tls from 'node:tls';
import type { Arrival } from '../pipeline/parse-request.js';
import { MAX_HEADER_LINES } from '../pipeline/parse-request.js';

/** The HTTP/2 limits of intercepted connections (fixed; README "HTTP/2 and gRPC"). */
export const H2_LIMITS = Object.freeze({
  /** SETTINGS_MAX_CONCURRENT_STREAMS, and the streams handled at once per connection. */
  maxConcurrentStreams: 100,
  /** Streams waiting for a handler slot before the connection counts as a reset flood. */
  maxQueuedStreams: 400,
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE (decoded, RFC 9113 §6.5.2): past it Node resets the stream
   * (RST_STREAM ENHANCE_YOUR_CALM, an HPACK bomb included). Half the HTTP/1.1 header block:
   * nghttp2 takes a header block of at most 8 CONTINUATION frames (≈144 KiB at the default
   * 16 KiB frame size, a connection error past it), so a larger list could never arrive whole
   * and this limit, not that one, must be the one a client meets.
   */
  maxHeaderListSize: 128 * 1024,
  /** Header fields Node accepts on a stream (past it: RST_STREAM); over MAX_HEADER_LINES is REQUEST_INVALID with a receipt. */
  maxHeaderListPairs: 2 * MAX_HEADER_LINES,
  /** MiB of nghttp2 state per connection (Node's default). */
  maxSessionMemory: 10,
  /** Malformed frames, and streams refused for going over the limits, before the connection is closed. */
  maxSessionInvalidFrames: 100,
  maxSessionRejectedStreams: 100,
  /** A connection with nothing being handled and no frames for this long is closed (GOAWAY). */
  idleTimeoutMs: 30_000,
});

export type H2StreamHandler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, arrival: Arrival) => Promise<void>;

/**
 * Why the gate closed an h2 connection: streams reset faster than it handles them, a protocol
 * error nghttp2 found (a stream past the concurrency limit, a malformed or oversized header
 * block, too many invalid frames), or idle for {@link H2_LIMITS}.idleTimeoutMs.
 */
export type H2CloseCause = 'reset_flood' | 'protocol_error' | 'idle';
export type H2CloseReport = (cause: H2CloseCause, arrival: Arrival, detail?: string) => void;

interface SessionState { arrival: Arrival; handling: number; queue: (() => void)[] }

/** Owns the HTTP/2 server of intercepted connections, its sessions, and their stream limits. */
export class H2Sessions {
  private readonly server: http2.Http2Server;
  private readonly states = new Map<http2.ServerHttp2Session, SessionState>();
  /** Set only while serve() hands a socket over: the 'session' event is emitted synchronously inside. */
  private handingOver: Arrival | undefined;

  constructor(private readonly handle: H2StreamHandler, private readonly onClose: H2CloseReport) {
    this.server = http2.createServer({
      settings: { maxConcurrentStreams: H2_LIMITS.maxConcurrentStreams, maxHeaderListSize: H2_LIMITS.maxHeaderListSize, enablePush: false },
      maxHeaderListPairs: H2_LIMITS.maxHeaderListPairs,
      maxSessionMemory: H2_LIMITS.maxSessionMemory,
      maxSessionInvalidFrames: H2_LIMITS.maxSessionInvalidFrames,
      maxSessionRejectedStreams: H2_LIMITS.maxSessionRejectedStreams,
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => {
      const arrival = this.handingOver;
      if (!arrival) { session.destroy(); return; }
      this.states.set(session, { arrival, handling: 0, queue: [] });
      session.once('close', () => this.states.delete(session));
      session.setTimeout(H2_LIMITS.idleTimeoutMs, () => {
        const st = this.states.get(session);
        if (st && st.handling === 0) { this.onClose('idle', arrival); session.close(); }
      });
    });
    // nghttp2 found a connection error and Node ends the session (GOAWAY); its streams end with it.
    // Every stream, whatever Node's compatibility layer dispatches it as (CONNECT, an Expect),
    // is decided by the one chain: CONNECT inside the tunnel is REQUEST_INVALID there.
    const onStream = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => this.admit(req, res);
    this.server.on('request', onStream);
    this.server.on('connect', onStream);
    this.server.on('checkExpectation', onStream);
    this.server.on('sessionError', (err: Error, session: http2.ServerHttp2Session) => {
      const st = this.states.get(session);
      if (st) this.onClose('protocol_error', st.arrival, err.message);
    });
  }

  /** Serves HTTP/2 on a TLS socket that negotiated ALPN `h2`, with the arrival of its CONNECT. */
  serve(socket: tls.TLSSocket, arrival: Arrival): void {
    // A server-side TLSSocket made from a plain socket keeps `secureConnecting` after its
    // handshake; node:http2 would then wait for a 'secureConnect' that never comes.
    (socket as { secureConnecting?: boolean }).secureConnecting = false;
    this.handingOver = { ...arrival, h2: true };
    try {
      this.server.emit('connection', socket);
    } finally {
      this.handingOver = undefined;
    }
  }

  /** Asks every connection to end (GOAWAY): streams being handled finish, new ones are refused. */
  closeAll(): void {
    for (const s of this.states.keys()) s.close();
  }

  private admit(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
    const stream = req.stream;
    const session = stream.session as http2.ServerHttp2Session | undefined;
    const st = session ? this.states.get(session) : undefined;
    if (!session || !st) { stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); return; }
    const run = (): void => {
      // Cancelled while it waited: never decided, nothing to answer.
      if (stream.destroyed || stream.closed) { this.release(st); return; }
      st.handling++;
      void this.handle(req, res, st.arrival).finally(() => { st.handling--; this.release(st); });
    };
    if (st.handling < H2_LIMITS.maxConcurrentStreams) { run(); return; }
    if (st.queue.length >= H2_LIMITS.maxQueuedStreams) {
      // Only a client that resets streams while the gate still handles them gets here.
      st.queue.length = 0;
      this.states.delete(session); // its 'error' below is this close, not another cause
      this.onClose('reset_flood', st.arrival);
      session.destroy(new Error('reset flood'), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    st.queue.push(run);
  }

  private release(st: SessionState): void {
    if (st.handling < H2_LIMITS.maxConcurrentStreams) st.queue.shift()?.();
  }
}
