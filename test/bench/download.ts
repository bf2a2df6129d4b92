/**
 * Scenario: one large download (100 MB by default) over one connection, direct or through a
 * proxy (absolute-URI request line), timed from the request's write to the last body byte.
 * The client only counts bytes (no parsing past the head), so it is not what is measured.
 */
import net from 'node:net';

export interface DownloadResult { bytes: number; seconds: number; mbPerS: number }

/** GETs `http://127.0.0.1:originPort/none/big?bytes=N`, via `proxyPort` when given. */
export function download(o: { originPort: number; proxyPort?: number; bytes: number; timeoutMs?: number }): Promise<DownloadResult> {
  const authority = `127.0.0.1:${o.originPort}`;
  const target = `${o.proxyPort ? `http://${authority}` : ''}/none/big?bytes=${o.bytes}`;
  return new Promise((resolve, reject) => {
    const sock = net.connect(o.proxyPort ?? o.originPort, '127.0.0.1');
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`download: no end after ${o.timeoutMs ?? 60_000} ms`)); }, o.timeoutMs ?? 60_000);
    let t0 = 0n;
    let head: Buffer | undefined = Buffer.alloc(0);
    let need = -1;
    let got = 0;
    sock.once('connect', () => { t0 = process.hrtime.bigint(); sock.write(`GET ${target} HTTP/1.1\r\nHost: ${authority}\r\nUser-Agent: egress-bench\r\n\r\n`); });
    sock.on('data', (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d]);
        const i = head.indexOf('\r\n\r\n');
        if (i < 0) return;
        const h = head.toString('latin1', 0, i);
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(h);
        if (!h.startsWith('HTTP/1.1 200') || !cl) { sock.destroy(); clearTimeout(timer); reject(new Error(`download: unexpected answer ${h.slice(0, 300)}`)); return; }
        need = Number(cl[1]);
        got = head.length - i - 4;
        head = undefined;
      } else got += d.length;
      if (need >= 0 && got >= need) {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        clearTimeout(timer);
        sock.destroy();
        resolve({ bytes: got, seconds, mbPerS: got / 1e6 / seconds });
      }
    });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
