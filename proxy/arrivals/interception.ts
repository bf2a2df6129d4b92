/**
 * TLS interception of a CONNECT (SPEC §11): after `200 Connection Established` the gate
 * terminates TLS with its leaf for the CONNECT host (or takes the stream as plain HTTP, as
 * undici's ProxyAgent sends for `http://` URLs) and hands the socket to an inner HTTP server
 * that never listens. Requests and upgrades on that server go through the same handlers as
 * on the proxy port, with the arrival (scheme and CONNECT authority) this module remembers
 * for each socket — the inner servers and the arrivals map are owned here, nowhere else.
 * A TLS client that negotiated ALPN `h2` is served by h2-sessions.ts instead: each of its
 * streams goes to the same request handler, with the same arrival.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { LeafIssuer } from '../../certs/leaf-issuer.js';
import type { Arrival } from '../pipeline/parse-request.js';
import { H2Sessions, type H2CloseReport, type H2StreamHandler } from './h2-sessions.js';
import { serveOn, sniffAndTerminate } from './terminate-tls.js';

export interface InterceptionHandlers {
  request(req: http.IncomingMessage, res: http.ServerResponse, arrival: Arrival): void;
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, arrival: Arrival): void;
  /** A CONNECT inside the tunnel: decided (REQUEST_INVALID) and answered, instead of Node's silent close. */
  connect(req: http.IncomingMessage, socket: Duplex, head: Buffer, arrival: Arrival): void;
  /** One HTTP/2 stream (ALPN h2): resolves when it is handled, its outcome receipt included. */
  stream: H2StreamHandler;
  /** An HTTP/2 connection the gate closed, and why (h2-sessions.ts). */
  h2Closed: H2CloseReport;
}

/** How an intercepted CONNECT ended up: served, refused for its SNI, or gone. */
export type Intercepted = 'served' | { sniMismatch: string } | 'closed';

/** Owns the inner servers of intercepted tunnels and what arrived on each of their sockets. */
export class Interception {
  /** The inner servers: https for terminated TLS, http for plain streams. */
  readonly servers: { https: http.Server; http: http.Server };
  private readonly arrivals = new WeakMap<object, Arrival>();
  private readonly h2: H2Sessions;

  constructor(private readonly leafs: LeafIssuer, serverOptions: http.ServerOptions, handlers: InterceptionHandlers, private readonly handshakeTimeoutMs: number) {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const arrival = this.arrivals.get(req.socket);
      if (!arrival) { res.destroy(); return; }
      handlers.request(req, res, arrival);
    };
    const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
      const arrival = this.arrivals.get(req.socket);
      if (!arrival) { socket.destroy(); return; }
      handlers.upgrade(req, socket, head, arrival);
    };
    const onConnect = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
      const arrival = this.arrivals.get(req.socket);
      if (!arrival) { socket.destroy(); return; }
      handlers.connect(req, socket, head, arrival);
    };
    this.h2 = new H2Sessions(handlers.stream, handlers.h2Closed);
    this.servers = { https: http.createServer(serverOptions, onRequest), http: http.createServer(serverOptions, onRequest) };
    for (const s of [this.servers.https, this.servers.http]) {
      s.on('upgrade', onUpgrade);
      s.on('connect', onConnect);
      // An `Expect` other than 100-continue is an end-to-end header: the request is decided and,
      // if permitted, forwarded with it, instead of Node's bare 417 without a receipt.
      s.on('checkExpectation', onRequest);
    }
  }

  /** Whether the leaf issuer admits one more CONNECT for `host` now (its mint rate limit). */
  admit(host: string): boolean {
    return this.leafs.admit(host);
  }

  /** Sends GOAWAY on every HTTP/2 connection (stop): what is being handled finishes. */
  closeH2(): void {
    this.h2.closeAll();
  }

  /** Answers the CONNECT with 200, then terminates TLS (or takes plain HTTP) and serves the requests inside. */
  async accept(socket: net.Socket, head: Buffer, tunnel: { host: string; port: number }): Promise<Intercepted> {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const sniffed = await sniffAndTerminate(socket, head, { host: tunnel.host, leafs: this.leafs, handshakeTimeoutMs: this.handshakeTimeoutMs });
    switch (sniffed.kind) {
      case 'tls':
        if (sniffed.socket.alpnProtocol === 'h2') { this.h2.serve(sniffed.socket, { scheme: 'https', tunnel }); return 'served'; }
        this.arrivals.set(sniffed.socket, { scheme: 'https', tunnel });
        serveOn(this.servers.https, sniffed.socket);
        return 'served';
      case 'plain':
        this.arrivals.set(sniffed.socket, { scheme: 'http', tunnel });
        serveOn(this.servers.http, sniffed.socket);
        return 'served';
      case 'sni-mismatch':
        return { sniMismatch: sniffed.sni };
      case 'closed':
        return 'closed';
      default: {
        const never: never = sniffed;
        throw new Error(`unknown sniff result ${String(never)}`);
      }
    }
  }
}
