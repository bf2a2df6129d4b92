/**
 * The fuzz's two clients: a kept-alive connection that waits for one full answer per input
 * (1xx skipped, Content-Length bodies read), and a one-shot connection that writes an input,
 * half-closes and waits for the gate to close.
 */
import net from 'node:net';

export type Outcome =
  | { kind: 'answer'; status: number; decision: string | undefined; text: string }
  | { kind: 'closed' }
  | { kind: 'hang' };

interface Head { status: number; headers: Map<string, string>; end: number }

function head(buf: Buffer, from: number): Head | undefined {
  const end = buf.indexOf('\r\n\r\n', from);
  if (end < 0) return undefined;
  const lines = buf.subarray(from, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) { const i = l.indexOf(':'); if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()); }
  return { status, headers, end: end + 4 };
}

/** The first final answer in `buf` once it is complete: [outcome, bytes consumed]. */
function parseAnswer(buf: Buffer): [Outcome, number] | undefined {
  let from = 0;
  for (;;) {
    const h = head(buf, from);
    if (!h) return undefined;
    if (h.status >= 100 && h.status < 200) { from = h.end; continue; }
    const len = Number(h.headers.get('content-length') ?? 0);
    if (h.headers.has('transfer-encoding')) {
      const z = buf.indexOf('0\r\n\r\n', h.end);
      if (z < 0) return undefined;
      return [{ kind: 'answer', status: h.status, decision: h.headers.get('egress-decision'), text: buf.subarray(0, z + 5).toString('latin1') }, z + 5];
    }
    if (buf.length < h.end + len) return undefined;
    return [{ kind: 'answer', status: h.status, decision: h.headers.get('egress-decision'), text: buf.subarray(0, h.end + len).toString('latin1') }, h.end + len];
  }
}

export class KeptConnection {
  closed = false;
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.waiter?.(); });
    s.on('close', () => { this.closed = true; this.waiter?.(); });
    s.on('error', () => undefined);
  }

  static open(port: number): Promise<KeptConnection> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const c = new KeptConnection(s);
      s.once('connect', () => resolve(c));
      s.once('error', () => { c.closed = true; resolve(c); });
    });
  }

  /** Writes one well-formed input and waits for its answer, the close, or the deadline. */
  exchange(bytes: Buffer, deadlineMs: number): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ kind: 'closed' });
    this.buf = Buffer.alloc(0);
    return new Promise((resolve) => {
      const done = (o: Outcome) => { clearTimeout(t); this.waiter = undefined; resolve(o); };
      const t = setTimeout(() => { this.destroy(); done({ kind: 'hang' }); }, deadlineMs);
      this.waiter = () => {
        const a = parseAnswer(this.buf);
        if (a) {
          // A 200 to CONNECT turns the connection into a tunnel: not reused.
          if (a[0].kind === 'answer' && a[0].status === 200 && /^HTTP\/1\.1 200 Connection/.test(a[0].text)) this.destroy();
          this.buf = this.buf.subarray(a[1]);
          done(a[0]);
        } else if (this.closed) done({ kind: 'closed' });
      };
      this.s.write(bytes, () => undefined);
    });
  }

  destroy(): void { this.closed = true; this.s.destroy(); }
}

/** Writes `bytes` on a fresh connection, half-closes, and waits until the gate closes. */
export function oneShot(port: number, bytes: Buffer, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const t = setTimeout(() => { s.destroy(); resolve({ kind: 'hang' }); }, deadlineMs);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      const raw = Buffer.concat(got);
      const a = parseAnswer(raw);
      // The whole exchange is kept as the text: an input may hold several requests.
      resolve(a && a[0].kind === 'answer' ? { ...a[0], text: raw.toString('latin1') } : { kind: 'closed' });
    });
    s.end(bytes);
  });
}
