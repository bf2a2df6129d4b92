/**
 * Splicing two byte streams after a decision (tunnel routes, WebSocket upgrades): bytes are
 * copied untouched both ways and counted for the outcome receipt. The gate reads nothing of
 * them: the decision was made, and recorded, before the first byte was copied.
 */
import type { Duplex } from 'node:stream';
import type { Clearance } from '../pipeline/record.js';

export interface SpliceResult {
  /** Bytes from the client to the upstream. */
  bytesUp: number;
  /** Bytes from the upstream to the client. */
  bytesDown: number;
  /** The first error either side raised, as `side: CODE: message`. */
  error?: string;
}

/** After one side ended, how long the other may stay half-open before both are destroyed. */
const HALF_OPEN_MS = 5_000;

function describe(side: string, e: Error): string {
  const code = (e as { code?: string }).code;
  return `${side}: ${code ? `${code}: ` : ''}${e.message}`.slice(0, 300);
}

/**
 * Live spliced pairs, so that stop() can end them: a WebSocket or tunnel may stay open for
 * hours, and the gate must still be able to write `stop` after their outcome receipts.
 */
export class Splices {
  private readonly live = new Set<Duplex>();

  /** Number of live spliced pairs. */
  get size(): number { return this.live.size / 2; }

  /**
   * Copies `client` ⇄ `upstream` until both are closed; resolves (never rejects) with the
   * byte counts. `clientHead`/`upstreamHead` are bytes already read from one side (by an
   * HTTP parser) that belong to the other. Takes the attempt's Clearance (record.ts): only a
   * durably recorded, forwarded decision is ever spliced.
   */
  splice(_cleared: Clearance, client: Duplex, upstream: Duplex, clientHead: Buffer = Buffer.alloc(0), upstreamHead: Buffer = Buffer.alloc(0)): Promise<SpliceResult> {
    const r: SpliceResult = { bytesUp: clientHead.length, bytesDown: upstreamHead.length };
    this.live.add(client);
    this.live.add(upstream);
    return new Promise((resolve) => {
      const gone = { client: false, upstream: false };
      let timer: NodeJS.Timeout | undefined;
      const onClose = (side: 'client' | 'upstream'): void => {
        gone[side] = true;
        // One side gone for good: the other has nothing left to talk to.
        client.destroy();
        upstream.destroy();
        if (!gone.client || !gone.upstream) return;
        clearTimeout(timer);
        this.live.delete(client);
        this.live.delete(upstream);
        resolve(r);
      };
      // pipe() ends the other side on 'end'; a peer that never answers a FIN must not pin the pair.
      const onEnd = (): void => { timer ??= setTimeout(() => { client.destroy(); upstream.destroy(); }, HALF_OPEN_MS); };
      client.on('error', (e) => { r.error ??= describe('client', e); });
      upstream.on('error', (e) => { r.error ??= describe('upstream', e); });
      client.once('close', () => onClose('client'));
      upstream.once('close', () => onClose('upstream'));
      client.once('end', onEnd);
      upstream.once('end', onEnd);
      client.on('data', (c: Buffer) => { r.bytesUp += c.length; });
      upstream.on('data', (c: Buffer) => { r.bytesDown += c.length; });
      if (clientHead.length) upstream.write(clientHead);
      if (upstreamHead.length) client.write(upstreamHead);
      client.pipe(upstream);
      upstream.pipe(client);
      // A side that closed before we listened never emits 'close' again.
      if (client.closed) onClose('client');
      if (upstream.closed) onClose('upstream');
    });
  }

  /** Destroys every live pair; their splice() promises then resolve. */
  closeAll(): void {
    for (const s of this.live) s.destroy();
  }
}
