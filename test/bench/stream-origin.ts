/**
 * The origin of the stream scenarios: `node --import tsx test/bench/stream-origin.ts PORT`
 * (prints `listening PORT`). Its own process, so the client's event loop is not the origin's.
 * - `GET /none/big?bytes=N`: 200 with Content-Length N, written from one 1 MiB buffer with
 *   backpressure (the origin never holds more than the socket's buffer).
 * - `GET /none/sse?n=N&every=MS`: text/event-stream, N events MS apart, each
 *   `data: <process.hrtime.bigint() at the write>`: CLOCK_MONOTONIC is one clock for every
 *   process of the machine, so the client subtracts it from its own reading on arrival.
 * - anything else: 200 with a small JSON body (what the idle-connection scenario sends).
 */
import http from 'node:http';

const CHUNK = Buffer.alloc(1 << 20, 0x61);
const server = http.createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://origin');
  req.resume();
  if (u.pathname === '/none/big') {
    let left = Number(u.searchParams.get('bytes') ?? 100e6);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(left) });
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) { res.once('drain', pump); return; }
      }
      res.end();
    };
    pump();
    return;
  }
  if (u.pathname === '/none/sse') {
    const n = Number(u.searchParams.get('n') ?? 100);
    const every = Number(u.searchParams.get('every') ?? 10);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    let sent = 0;
    const t = setInterval(() => {
      res.write(`data: ${process.hrtime.bigint()}\n\n`);
      if (++sent === n) { clearInterval(t); res.end(); }
    }, every);
    res.once('close', () => clearInterval(t));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}');
});
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
process.on('SIGTERM', () => process.exit(0));
