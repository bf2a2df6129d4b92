/**
 * One console's live stream (server-sent events, `text/event-stream`) over a DecisionHub.
 * The page reads it with fetch (a stream body), not EventSource, so it can send the bearer
 * token as a header.
 *
 * A slow reader never slows a request: `offer` only queues, up to `max` events; what arrives
 * while the queue is full is dropped for this reader alone and counted, and once the socket
 * drains the reader gets `event: dropped` with how many it missed (the page says so, and the
 * log has them). Writes happen on a later turn of the event loop, never in the publisher's.
 */
import type http from 'node:http';
import type { ConsoleEvent, DecisionHub, HubListener } from './decision-hub.js';

/** Events one reader may have queued before further ones are dropped for it. */
export const STREAM_QUEUE_MAX = 1000;
const KEEPALIVE_MS = 15_000;

export class EventStream implements HubListener {
  readonly #queue: ConsoleEvent[] = [];
  #dropped = 0;
  #scheduled = false;
  #closed = false;
  readonly #keepalive: NodeJS.Timeout;

  constructor(private readonly hub: DecisionHub, private readonly res: http.ServerResponse, private readonly max = STREAM_QUEUE_MAX) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
      // Proxies in front of the admin port must not buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write(`event: hello\ndata: ${JSON.stringify({ queue_max: max })}\n\n`);
    res.on('drain', () => this.#flush());
    res.on('close', () => this.close());
    this.#keepalive = setInterval(() => { if (!res.writableNeedDrain) res.write(': keepalive\n\n'); }, KEEPALIVE_MS);
    this.#keepalive.unref();
    hub.add(this);
  }

  /** Queues one event (never blocks, never writes in the caller's turn). */
  offer(e: ConsoleEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.max) {
      this.#dropped++;
      return;
    }
    this.#queue.push(e);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => { this.#scheduled = false; this.#flush(); });
    }
  }

  /** Events dropped for this reader since the last `dropped` notice. */
  get dropped(): number {
    return this.#dropped;
  }

  #flush(): void {
    if (this.#closed) return;
    while (!this.res.writableNeedDrain && (this.#queue.length > 0 || this.#dropped > 0)) {
      if (this.#dropped > 0 && this.#queue.length === 0) {
        this.res.write(`event: dropped\ndata: ${JSON.stringify({ dropped: this.#dropped })}\n\n`);
        this.#dropped = 0;
        continue;
      }
      const e = this.#queue.shift() as ConsoleEvent;
      this.res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.hub.delete(this);
    this.#queue.length = 0;
    if (!this.res.writableEnded) this.res.end();
  }
}
