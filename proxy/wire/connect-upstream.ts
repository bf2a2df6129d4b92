/**
 * Opening the TCP connection of a tunnel route to the address the pipeline checked (never a
 * fresh lookup, so DNS rebinding cannot slip between check and connect).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';

export type Connected = { ok: true; socket: net.Socket } | { ok: false; error: string; timedOut: boolean };

/** Opens a TCP connection to `address`; gives up when `client` goes away or after `timeoutMs`. Never rejects. */
export function connectUpstream(address: string, port: number, timeoutMs: number, client: Duplex): Promise<Connected> {
  return new Promise((resolve) => {
    const upstream = net.connect({ host: address, port });
    const done = (r: Connected): void => {
      clearTimeout(timer);
      upstream.off('error', onError);
      client.off('close', onClientGone);
      if (!r.ok) upstream.destroy();
      resolve(r);
    };
    const onError = (e: NodeJS.ErrnoException): void => done({ ok: false, error: `${e.code ?? 'error'}: ${e.message}`.slice(0, 300), timedOut: false });
    const onClientGone = (): void => done({ ok: false, error: 'the client closed before the upstream answered', timedOut: false });
    const timer = setTimeout(() => done({ ok: false, error: `ETIMEDOUT: no connection within ${timeoutMs} ms`, timedOut: true }), timeoutMs);
    upstream.once('connect', () => done({ ok: true, socket: upstream }));
    upstream.once('error', onError);
    client.once('close', onClientGone);
  });
}
