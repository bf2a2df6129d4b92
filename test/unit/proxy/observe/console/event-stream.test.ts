/**
 * The console's live stream (proxy/observe/console/event-stream.ts) over real sockets: a
 * reader that stops reading never holds the publisher up — what does not fit its bounded
 * queue is dropped for it alone, counted, and announced (`event: dropped`) once it reads
 * again; every event published is either delivered or counted as dropped. A reader that
 * goes away leaves the hub.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { DecisionHub, type DecisionEvent } from '../../../../../proxy/observe/console/decision-hub.js';
import { EventStream } from '../../../../../proxy/observe/console/event-stream.js';

const event = (i: number): DecisionEvent => ({
  type: 'decision', ts: new Date(0).toISOString(), receipt: `r${i}`, seq: i, method: 'GET', url: `http://open.test/${'p'.repeat(2000)}/${i}`, jsonrpc: null,
  surface: 'public', action: 'read', decision: 'PERMIT', reason: 'NO_PERMIT_REQUIRED', enforced: true,
});

async function serve(hub: DecisionHub, max: number): Promise<{ port: number; streams: EventStream[]; close(): Promise<void> }> {
  const streams: EventStream[] = [];
  const server = http.createServer((_req, res) => { streams.push(new EventStream(hub, res, max)); });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as net.AddressInfo).port)));
  return { port, streams, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const until = async (ok: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), what);
};

describe('EventStream', () => {
  it('a reader that stops reading: the publisher goes on, its events are dropped and then announced, none lost silently', async () => {
    const hub = new DecisionHub();
    const s = await serve(hub, 50);
    const sock = net.connect(s.port, '127.0.0.1');
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => { text += c; });
    sock.write('GET /events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    await until(() => text.includes('event: hello'), 'the stream opened');
    sock.pause(); // the slow reader: nothing more is read from the socket
    const N = 20_000;
    for (let i = 0; i < N; i++) hub.publish(event(i));
    // Let the stream write what the socket takes, until it must wait for a drain.
    await until(() => s.streams[0]!.dropped > 0, 'events were dropped for the stalled reader');
    assert.ok(s.streams[0]!.dropped <= N - 50, 'the queue holds its bound');
    sock.resume();
    await until(() => /event: dropped\ndata: \{"dropped":\d+\}/.test(text), 'the reader is told how many it missed');
    const delivered = (text.match(/^event: decision$/gm) ?? []).length;
    const dropped = [...text.matchAll(/event: dropped\ndata: \{"dropped":(\d+)\}/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(delivered + dropped, N, 'every event is delivered or counted as dropped');
    assert.ok(delivered < N, 'some were dropped');
    sock.destroy();
    await until(() => !hub.watched, 'a reader that goes away leaves the hub');
    await s.close();
  });

  it('a reader that keeps up gets every event, in order', async () => {
    const hub = new DecisionHub();
    const s = await serve(hub, 1000);
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s.port, path: '/events' }, (res) => {
        assert.match(String(res.headers['content-type']), /^text\/event-stream/);
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          if (buf.includes('event: hello') && got.length === 0 && !buf.includes('event: decision')) for (let i = 0; i < 100; i++) hub.publish(event(i));
          for (const m of buf.matchAll(/"receipt":"(r\d+)"/g)) if (!got.includes(m[1] as string)) got.push(m[1] as string);
          if (got.length === 100) { res.destroy(); resolve(); }
        });
      }).on('error', reject);
    });
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `r${i}`));
    await s.close();
  });
});
