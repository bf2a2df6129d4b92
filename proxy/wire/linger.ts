/**
 * A closing answer to a request whose body the gate did not read (BODY_TOO_LARGE from a
 * declared Content-Length, a refusal before the body was needed) must still reach the client.
 * Closing the socket at once, with the client's body still arriving, makes the kernel answer
 * those bytes with a reset: the client's write fails (EPIPE, ECONNRESET) and most clients then
 * report a network error instead of the 413 or 403 the gate sent. So, as HTTP servers do
 * (RFC 9112 §9.6, nginx's lingering close): send the answer, half-close (FIN), keep reading
 * and discarding what the client still sends (the HTTP parser goes on reading the body into a
 * request nobody reads), and destroy the socket when the client closes its side or
 * LINGER_MAX_MS after the answer, whichever comes first.
 * Nothing read while lingering is parsed into a decision: the connection's turns are closed
 * (connection-turns.ts), so a request behind the body is dropped.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const LINGER_MAX_MS = 5_000;

/** Arms a lingering close for `res`'s connection when its request's body has not all arrived. */
export function lingerIfBodyUnread(res: ServerResponse): void {
  const req = res.req;
  const socket = res.socket as Socket | null;
  if (!socket || !req || req.complete) return;
  // Node's server ends a `Connection: close` answer with socket.destroySoon() (end, then
  // destroy once the answer is flushed): replaced, for this socket only, by end-then-linger.
  socket.destroySoon = function lingeringClose(this: Socket): void {
    this.end();
    const max = setTimeout(() => this.destroy(), LINGER_MAX_MS).unref();
    this.once('end', () => this.destroy());
    this.once('close', () => clearTimeout(max));
    // The body, read and dropped (a request stream a body read paused would hold the socket).
    req.resume();
  };
}
