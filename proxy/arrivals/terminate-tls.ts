/**
 * What happens inside a CONNECT tunnel once the gate has answered `200 Connection
 * Established` (SPEC §11): the first byte says whether the client starts TLS (0x16, a
 * handshake record) or speaks plain HTTP (undici's ProxyAgent and Node's fetch do for
 * `http://` URLs). TLS is terminated here with a leaf for the CONNECT host; the caller then
 * runs the decrypted (or plain) stream through the same HTTP pipeline.
 *
 * Invariant: a TLS session is only ever established for the CONNECT host. The SNI check
 * runs inside the handshake (SNICallback), so a client naming another host never completes
 * it and never gets to send a request.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { normalizeHost, type LeafIssuer } from '../../certs/leaf-issuer.js';

export type SniffResult =
  | { kind: 'tls'; socket: tls.TLSSocket }
  | { kind: 'plain'; socket: net.Socket }
  | { kind: 'sni-mismatch'; sni: string }
  | { kind: 'closed' };

export interface SniffOptions {
  /** The CONNECT host (name or IP literal, IPv6 with or without brackets). */
  host: string;
  leafs: LeafIssuer;
  /** From the first byte awaited to the handshake's end; then the socket is destroyed. Default 10000. */
  handshakeTimeoutMs?: number;
}

/** First byte of a TLS record carrying a handshake message (RFC 8446 §5.1). */
const TLS_HANDSHAKE = 0x16;

/**
 * Classifies and, for TLS, terminates the tunnel on `socket`. `head` is what the HTTP
 * server had already read past the CONNECT request (may be empty); it is put back.
 *
 * - `tls`: the handshake completed (ALPN `h2` or `http/1.1`, in `socket.alpnProtocol`); hand
 *   the socket to an HTTP/1.1 server with {@link serveOn}, or to the HTTP/2 sessions.
 * - `plain`: the bytes are still unread on `socket`; hand it over the same way.
 * - `sni-mismatch`: the client named another host; its handshake was refused and the
 *   socket destroyed. The caller records `DENY TLS_SNI_MISMATCH`.
 * - `closed`: the client went away, the handshake failed or timed out, or no certificate
 *   could be issued for `host`; the socket is destroyed.
 *
 * Never rejects.
 */
export async function sniffAndTerminate(socket: net.Socket, head: Buffer, opts: SniffOptions): Promise<SniffResult> {
  const timeoutMs = opts.handshakeTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const first = head.length > 0 ? head : await firstChunk(socket, timeoutMs);
  if (first === null) {
    socket.destroy();
    return { kind: 'closed' };
  }
  // Paused (firstChunk pauses; a fresh CONNECT socket is not flowing), so the bytes stay
  // at the front of the readable buffer for whoever reads next.
  socket.pause();
  socket.unshift(first);
  if (first[0] !== TLS_HANDSHAKE) return { kind: 'plain', socket };
  let context: tls.SecureContext;
  try {
    context = await opts.leafs.secureContextFor(opts.host);
  } catch {
    socket.destroy();
    return { kind: 'closed' };
  }
  return terminate(socket, context, opts.host, Math.max(deadline - Date.now(), 1));
}

/**
 * Hands a socket from {@link sniffAndTerminate} to an HTTP server (`http.createServer`,
 * never listening) so requests inside the tunnel reach its 'request' handler. The socket
 * was paused to keep its first bytes; resuming after the server attached its reader makes
 * them flow into the parser.
 */
export function serveOn(server: { emit(event: 'connection', socket: net.Socket): boolean }, socket: net.Socket): void {
  server.emit('connection', socket);
  socket.resume();
}

function firstChunk(socket: net.Socket, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const done = (chunk: Buffer | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      resolve(chunk);
    };
    // pause() inside the handler stops the stream before it can emit another chunk
    // nobody listens for, so nothing after the first chunk is lost either.
    const onData = (chunk: Buffer): void => {
      socket.pause();
      done(chunk);
    };
    const onEnd = (): void => done(null);
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}

function terminate(socket: net.Socket, context: tls.SecureContext, host: string, timeoutMs: number): Promise<SniffResult> {
  const want = normalizeHost(host);
  let mismatch: string | undefined;
  return new Promise((resolve) => {
    const tlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      // h2 first (RFC 7301: the server picks; a client offering both gets HTTP/2), then HTTP/1.1.
      ALPNProtocols: ['h2', 'http/1.1'],
      // Called only when the client sends SNI. Refusing here aborts the handshake with an
      // alert: no session is ever established under a name other than the CONNECT host.
      SNICallback: (servername, cb) => {
        if (normalizeHost(servername) === want) return cb(null, context);
        mismatch = servername;
        cb(new Error('SNI does not name the CONNECT host'), undefined);
      },
    });
    const finish = (r: SniffResult): void => {
      clearTimeout(timer);
      tlsSocket.off('secure', onSecure);
      tlsSocket.off('error', onFail);
      tlsSocket.off('close', onFail);
      if (r.kind !== 'tls') {
        tlsSocket.destroy();
        socket.destroy();
      } else {
        // Errors after the handshake belong to the caller's HTTP server; until it attaches
        // its own handler, an error must not crash the process.
        tlsSocket.on('error', () => {});
      }
      resolve(r);
    };
    const onSecure = (): void => finish({ kind: 'tls', socket: tlsSocket });
    const onFail = (): void => finish(mismatch !== undefined ? { kind: 'sni-mismatch', sni: mismatch } : { kind: 'closed' });
    const timer = setTimeout(onFail, timeoutMs);
    tlsSocket.once('secure', onSecure);
    tlsSocket.once('error', onFail);
    tlsSocket.once('close', onFail);
  });
}
