/**
 * HTTP/2 parts for the interception tests: an h2 client session through a CONNECT to the gate
 * (node:http2 over the gate's TLS, ALPN h2), and a raw frame writer for what node:http2 will not
 * send (streams opened and reset at once, by the thousand).
 */
import http2 from 'node:http2';
import type net from 'node:net';
import tls from 'node:tls';
import { connectThrough } from './kit.js';

/** TLS through CONNECT `authority`, offering `alpn`; resolves the socket once the handshake is done. */
export async function tlsThrough(gatePort: number, authority: string, caPem: string, alpn: string[]): Promise<tls.TLSSocket> {
  const { socket, status } = await connectThrough(gatePort, authority);
  if (status !== 200) throw new Error(`CONNECT answered ${status}`);
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket, servername: authority.replace(/:\d+$/, ''), ca: caPem, ALPNProtocols: alpn });
    t.once('secureConnect', () => resolve(t));
    t.once('error', reject);
  });
}

/** A node:http2 client session to `https://authority` through the gate. */
export async function h2Through(gatePort: number, authority: string, caPem: string): Promise<{ session: http2.ClientHttp2Session; alpn: string | false | null }> {
  const t = await tlsThrough(gatePort, authority, caPem, ['h2']);
  const session = http2.connect(`https://${authority}`, { createConnection: () => t });
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  return { session, alpn: t.alpnProtocol };
}

export interface H2Answer { status: number; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; text: string }

/** One request on `session`; resolves its answer with trailers. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const r = session.request(headers, { endStream: body === undefined });
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let text = '';
    r.on('response', (h) => { head = h; });
    r.on('trailers', (t) => { trailers = t; });
    r.on('data', (d: Buffer) => { text += d.toString('utf8'); });
    r.on('end', () => resolve({ status: Number(head[':status']), headers: head, trailers, text }));
    r.on('error', reject);
    if (body !== undefined) r.end(body);
  });
}

// ---- raw frames (RFC 9113 §4.1, HPACK literals without indexing, RFC 7541 §6.2.2) ----

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1), `first` holding the bits above it. */
function hpackInt(v: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (v < max) return Buffer.from([first | v]);
  const out = [first | max];
  for (v -= max; v >= 128; v >>= 7) out.push((v & 127) | 128);
  out.push(v);
  return Buffer.from(out);
}

/** A string literal, no Huffman (RFC 7541 §5.2). */
function literal(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7, 0), b]);
}

/** A header block of `fields` as literals without indexing (RFC 7541 §6.2.2). */
export function literalBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0x00]), literal(n), literal(v)]));
}

/**
 * An HPACK bomb: `field` once with incremental indexing (it becomes dynamic entry 62), then
 * the one-byte index of that entry `times - 1` more times: a few bytes on the wire that decode
 * to `times` copies of the field (RFC 7541 §6.1, §6.2.1).
 */
export function bombBlock(field: [string, string], times: number): Buffer {
  return Buffer.concat([Buffer.from([0x40]), literal(field[0]), literal(field[1]), Buffer.alloc(times - 1, 0x80 | 62)]);
}

/**
 * A HEADERS frame (END_STREAM unless `open`) carrying `fields` as HPACK literals, or a prepared
 * header block; a block over 16 KiB continues in CONTINUATION frames, the last with END_HEADERS.
 */
export function headersFrame(stream: number, fields: [string, string][] | Buffer, open = false): Buffer {
  const block = Buffer.isBuffer(fields) ? fields : literalBlock(fields);
  const parts: Buffer[] = [];
  for (let i = 0; i < block.length; i += 16_384) parts.push(block.subarray(i, i + 16_384));
  if (parts.length === 0) parts.push(Buffer.alloc(0));
  return Buffer.concat(parts.map((p, i) => {
    const endHeaders = i === parts.length - 1 ? 0x4 : 0;
    return i === 0 ? frame(0x1, (open ? 0 : 0x1) | endHeaders, stream, p) : frame(0x9, endHeaders, stream, p);
  }));
}

/** A DATA frame that does not end the stream. */
export function dataFrame(stream: number, data: string): Buffer {
  return frame(0x0, 0, stream, Buffer.from(data));
}

/** RST_STREAM with CANCEL (0x8). */
export function cancelFrame(stream: number): Buffer {
  const p = Buffer.alloc(4); p.writeUInt32BE(0x8, 0);
  return frame(0x3, 0, stream, p);
}

/** A raw h2 connection: the preface and SETTINGS sent, the server's SETTINGS acknowledged; frames received are parsed. */
export async function rawH2(t: net.Socket): Promise<{
  write(b: Buffer): void; goaway: () => number | undefined; goawayLastStream: () => number | undefined; resets: Map<number, number>; responses: Set<number>; closed: Promise<void>;
}> {
  let buf = Buffer.alloc(0);
  let goaway: number | undefined;
  let goawayLast: number | undefined;
  const resets = new Map<number, number>();
  const responses = new Set<number>();
  let settled = false;
  let ready!: () => void;
  const gotSettings = new Promise<void>((r) => { ready = r; });
  t.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      const type = buf[3]!; const flags = buf[4]!; const id = buf.readUInt32BE(5) & 0x7fffffff;
      const payload = buf.subarray(9, 9 + len);
      buf = buf.subarray(9 + len);
      if (type === 0x4 && (flags & 0x1) === 0 && !settled) { settled = true; t.write(frame(0x4, 0x1, 0, Buffer.alloc(0))); ready(); }
      if (type === 0x7) { goaway = payload.readUInt32BE(4); goawayLast = payload.readUInt32BE(0) & 0x7fffffff; }
      if (type === 0x3) resets.set(id, payload.readUInt32BE(0));
      if (type === 0x1) responses.add(id);
    }
  });
  t.on('error', () => undefined);
  const closed = new Promise<void>((r) => t.once('close', () => r()));
  t.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(0))]));
  await Promise.race([gotSettings, closed]);
  return { write: (b) => { if (!t.destroyed) t.write(b); }, goaway: () => goaway, goawayLastStream: () => goawayLast, resets, responses, closed };
}
