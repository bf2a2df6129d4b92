/**
 * Answers written on a raw socket that no HTTP server owns (a CONNECT, an upgrade, a request
 * Node's parser refused): the status line and header block serialized here, once, for every
 * such path. What the answer says (status, problem+json, Egress-* headers) is decided by
 * respond.ts; this module only puts it on the wire.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { headerLines } from './headers.js';
import type { BlockedResponse } from './respond.js';

/** A status line and header block, ending with the empty line. `headers`: an object or a flat [name, value, …] list. */
export function rawHead(status: number, headers: Record<string, string> | readonly string[], reason = STATUS_CODES[status] ?? 'Error'): string {
  const lines = Array.isArray(headers) ? headerLines(headers) : Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return [`HTTP/1.1 ${status} ${reason}`, ...lines, '', ''].join('\r\n');
}

/** Writes a prepared answer (respond.ts) on a raw socket and closes it. */
export function writeRaw(socket: Duplex, r: BlockedResponse): void {
  if (socket.destroyed || !socket.writable) { socket.destroy(); return; }
  socket.end(rawHead(r.status, { ...r.headers, connection: 'close' }) + r.body);
}
