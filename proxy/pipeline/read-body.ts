/**
 * Reading a body the gate must hold whole before deciding (a body-bound permit's `bdh`), up
 * to `limits.max_bound_body`: past it the read stops and the request is BODY_TOO_LARGE.
 */
import type { Readable } from 'node:stream';

/** The body went past the bound while it was read. */
export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE';
}

/** Where the chain gets a request's body from: the socket (the gate) or a file (explain). */
export interface BodySource {
  /** The declared Content-Length, if any: refused before reading when over the bound. */
  contentLength?: number;
  /** Reads the whole body; rejects BodyTooLargeError past `max` bytes. */
  read(max: number): Promise<Buffer>;
}

/** Reads a body up to `max` bytes from a stream; rejects BodyTooLargeError past it (the stream is paused there). */
export function readBody(stream: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    stream.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) { stream.pause(); reject(new BodyTooLargeError(`the body exceeds max_bound_body (${max} bytes)`)); return; }
      chunks.push(c);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A body already in memory (explain's --body). */
export function bufferBody(body: Buffer | undefined): BodySource {
  const b = body ?? Buffer.alloc(0);
  return { contentLength: b.length, read: async (max) => { if (b.length > max) throw new BodyTooLargeError(`the body exceeds max_bound_body (${max} bytes)`); return b; } };
}
