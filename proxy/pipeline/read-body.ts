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

/** The client went away (aborted, reset, closed) before the whole body arrived: a client abort, not a gate failure. */
export class BodyAbortedError extends Error {
  override name = 'BodyAbortedError';
  readonly code = 'BODY_ABORTED';
}

/** Where the chain gets a request's body from: the socket (the gate) or a file (explain). */
export interface BodySource {
  /** The declared Content-Length, if any: refused before reading when over the bound. */
  contentLength?: number;
  /** Reads the whole body; rejects BodyTooLargeError past `max` bytes, BodyAbortedError when the client leaves before its end. */
  read(max: number): Promise<Buffer>;
}

/**
 * Reads a body up to `max` bytes from a stream; rejects BodyTooLargeError past it (the stream
 * is paused there), and BodyAbortedError when the stream errors or closes before its end (the
 * client aborted the upload half-way).
 */
export function readBody(stream: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    // Settled once; the listeners go with it (but 'error', kept so a late one is never
    // unhandled), so a later reader — the lingering close that drains a refused body — meets
    // a stream this no longer pauses.
    const settle = (f: () => void) => {
      stream.off('data', onData).off('end', onEnd).off('close', onClose);
      f();
    };
    const aborted = (why: string) => settle(() => reject(new BodyAbortedError(`the client aborted the body after ${n} bytes (${why})`)));
    const onData = (c: Buffer) => {
      n += c.length;
      if (n > max) { stream.pause(); settle(() => reject(new BodyTooLargeError(`the body exceeds max_bound_body (${max} bytes)`))); return; }
      chunks.push(c);
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks)));
    const onError = (e: NodeJS.ErrnoException) => aborted(e.code ?? e.message);
    const onClose = () => aborted('connection closed');
    stream.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** A body already in memory (explain's --body). */
export function bufferBody(body: Buffer | undefined): BodySource {
  const b = body ?? Buffer.alloc(0);
  return { contentLength: b.length, read: async (max) => { if (b.length > max) throw new BodyTooLargeError(`the body exceeds max_bound_body (${max} bytes)`); return b; } };
}
