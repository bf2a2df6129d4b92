/**
 * A minimal HTTP/1.1 client over any duplex (a TCP socket or a TLS socket inside a CONNECT
 * tunnel): one request in flight per connection, keep-alive, answers framed by
 * Content-Length or chunked encoding. Far cheaper per request than http.request, so the load
 * generator is not what is measured.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';

const CRLF2 = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

export class RawConn {
  private buf: Buffer = Buffer.alloc(0);
  private pending?: { resolve: (status: number) => void; reject: (e: Error) => void };
  private status = 0;
  /** Body bytes still expected; -1 while reading the head; -2 while reading chunks. */
  private need = -1;
  closed = false;

  constructor(readonly sock: Duplex) {
    sock.on('data', (d: Buffer) => { this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d; this.parse(); });
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => { this.closed = true; this.fail(new Error('connection closed')); });
  }

  /** Sends one request; resolves the answer's status when its whole body has arrived. */
  request(bytes: string | Buffer): Promise<number> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.need = -1;
      this.sock.write(bytes);
    });
  }

  close(): void { this.closed = true; this.sock.destroy(); }

  private fail(e: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
  }

  private done(): void {
    const p = this.pending;
    this.pending = undefined;
    p?.resolve(this.status);
  }

  private parse(): void {
    while (this.pending) {
      if (this.need === -1) {
        const i = this.buf.indexOf(CRLF2);
        if (i < 0) return;
        const head = this.buf.toString('latin1', 0, i);
        this.status = Number(head.slice(9, 12));
        this.buf = this.buf.subarray(i + 4);
        const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
        if (cl) this.need = Number(cl[1]);
        else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) this.need = -2;
        else this.need = 0;
      }
      if (this.need === -2) {
        const i = this.buf.indexOf(CRLF);
        if (i < 0) return;
        const size = parseInt(this.buf.toString('latin1', 0, i), 16);
        if (size === 0) {
          if (this.buf.length < i + 4) return;
          this.buf = this.buf.subarray(i + 4);
          this.done();
          continue;
        }
        if (this.buf.length < i + 2 + size + 2) return;
        this.buf = this.buf.subarray(i + 2 + size + 2);
        continue;
      }
      if (this.buf.length < this.need) return;
      this.buf = this.buf.subarray(this.need);
      this.done();
    }
  }
}

/** Opens a TCP connection to 127.0.0.1:port (Nagle off). */
export function tcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/** Sends CONNECT authority through a proxy socket; resolves when the proxy answered 2xx. */
export function connectTunnel(sock: net.Socket, authority: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const i = buf.indexOf(CRLF2);
      if (i < 0) return;
      sock.off('data', onData);
      sock.off('error', reject);
      const status = Number(buf.toString('latin1', 9, 12));
      if (status < 200 || status > 299) { sock.destroy(); reject(new Error(`CONNECT answered ${status}`)); return; }
      if (buf.length > i + 4) sock.unshift(buf.subarray(i + 4));
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** A full TLS handshake over `socket` (or a new TCP connection to `port`), no session reuse. */
export function tlsOver(o: { socket?: net.Socket; port?: number; host: string; ctx: tls.SecureContext }): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      ...(o.socket ? { socket: o.socket } : { port: o.port, host: '127.0.0.1' }),
      host: o.host, secureContext: o.ctx, ...(net.isIP(o.host) ? {} : { servername: o.host }),
    });
    s.setNoDelay?.(true);
    s.once('secureConnect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}
