/**
 * Scenario: server-sent events, one stream over one connection, direct or through a proxy.
 * The origin (stream-origin.ts) stamps each event with process.hrtime.bigint() as it writes
 * it; the client subtracts that from its own reading when the event arrives (CLOCK_MONOTONIC:
 * one clock for all processes of the machine). The first events are a warm-up and dropped.
 */
import net from 'node:net';
import { Histogram } from './lib/histogram.js';

export interface SseResult { events: number; p50: number; p99: number; max: number }

/** Latencies in µs from the origin's write to the client's receipt of each event. */
export function sseLatency(o: { originPort: number; proxyPort?: number; events: number; everyMs: number; warmup?: number }): Promise<SseResult> {
  const authority = `127.0.0.1:${o.originPort}`;
  const warmup = o.warmup ?? 10;
  const target = `${o.proxyPort ? `http://${authority}` : ''}/none/sse?n=${o.events + warmup}&every=${o.everyMs}`;
  const h = new Histogram();
  let seen = 0;
  let max = 0;
  return new Promise((resolve, reject) => {
    const sock = net.connect(o.proxyPort ?? o.originPort, '127.0.0.1');
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`sse: ${seen} of ${o.events + warmup} events before the time-out`)); }, (o.events + warmup) * o.everyMs + 30_000);
    let text = '';
    sock.once('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: ${authority}\r\nAccept: text/event-stream\r\n\r\n`));
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      const now = process.hrtime.bigint();
      text += d.toString('latin1');
      // Chunk-size lines of a chunked answer are not `data:` lines; only whole events count.
      for (let m = /data: (\d+)\n\n/.exec(text); m; m = /data: (\d+)\n\n/.exec(text)) {
        text = text.slice(m.index + m[0].length);
        if (++seen <= warmup) continue;
        const us = Number(now - BigInt(m[1]!)) / 1000;
        h.record(us);
        max = Math.max(max, us);
      }
      if (seen >= o.events + warmup) { clearTimeout(timer); sock.destroy(); resolve({ events: seen - warmup, p50: h.percentile(50), p99: h.percentile(99), max }); }
    });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
