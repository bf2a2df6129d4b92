import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { route } from '../../policy/route-factory.js';
import { Splices } from '../../../../proxy/wire/splices.js';
import { chainWith, head, MemorySink, noBody, policyOf, PROXY, recorderWith } from '../pipeline/pipeline-kit.js';

/** A connected pair of TCP sockets on loopback: [near end, far end]. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const b = await accepted;
  server.close();
  await new Promise((r) => a.once('connect', r));
  return [a, b];
}

async function clearance() {
  const chain = chainWith({ policy: () => policyOf([route({ authorize: 'none', match: { host: 'open.test' } })]) });
  const rec = await recorderWith(new MemorySink()).recorder.decision(await chain.decideRequest({ head: head('GET', 'http://open.test/'), arrival: PROXY, body: noBody }));
  return rec.clearance!;
}

describe('Splices', () => {
  it('copies both ways untouched, counts bytes (heads included) and ends when one side closes', async () => {
    const [client, clientPeer] = await pair();
    const [upstream, upstreamPeer] = await pair();
    const splices = new Splices();
    const done = splices.splice(await clearance(), clientPeer, upstream, Buffer.from('HEAD'), Buffer.from('up'));
    assert.equal(splices.size, 1);
    const gotUp: Buffer[] = [];
    upstreamPeer.on('data', (c) => gotUp.push(c));
    const gotDown: Buffer[] = [];
    client.on('data', (c) => gotDown.push(c));
    client.write('hello');
    upstreamPeer.write('world');
    await new Promise((r) => setTimeout(r, 100));
    upstreamPeer.destroy();
    const r = await done;
    assert.equal(Buffer.concat(gotUp).toString(), 'HEADhello');
    assert.equal(Buffer.concat(gotDown).toString(), 'upworld');
    assert.equal(r.bytesUp, 9);
    assert.equal(r.bytesDown, 7);
    assert.equal(splices.size, 0);
    client.destroy();
  });

  it('closeAll ends live pairs and their promises resolve', async () => {
    const [, clientPeer] = await pair();
    const [upstream] = await pair();
    const splices = new Splices();
    const done = splices.splice(await clearance(), clientPeer, upstream);
    splices.closeAll();
    const r = await done;
    assert.equal(r.bytesUp, 0);
    assert.equal(splices.size, 0);
  });
});
