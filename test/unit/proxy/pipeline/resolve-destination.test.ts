/**
 * DestinationResolver: one lookup per resolution, the answer checked and returned as the
 * address to connect to; IP literals and network.hosts never reach DNS; the gate's own ports
 * on this host are refused even with block_private off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { DestinationResolver, isThisHost, type LookupFn } from '../../../../proxy/pipeline/resolve-destination.js';
import type { GateConfig } from '../../../../policy/types.js';

const net = (o: Partial<GateConfig['network']> = {}): GateConfig['network'] => ({ blockPrivate: true, allowCidrs: [], hosts: {}, ...o });

/** A resolver that answers from a queue and counts its calls (a rebinding DNS server). */
function scripted(answers: string[]): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string) => {
    calls.push(host);
    const a = answers[Math.min(calls.length - 1, answers.length - 1)]!;
    return { address: a, family: a.includes(':') ? 6 : 4 };
  };
  return Object.assign(fn, { calls });
}

describe('DestinationResolver', () => {
  it('resolves once and returns the checked address; a rebinding answer on the next resolution is refused', async () => {
    const lookup = scripted(['93.184.216.34', '127.0.0.1']);
    const r = new DestinationResolver(net(), lookup);
    assert.deepEqual(await r.resolve({ host: 'rebind.example', hostIsIp: false, port: 80 }), { ok: true, address: '93.184.216.34', family: 4 });
    assert.deepEqual(lookup.calls, ['rebind.example']);
    const second = await r.resolve({ host: 'rebind.example', hostIsIp: false, port: 80 });
    assert.deepEqual(second, { ok: false, private: true, detail: 'rebind.example resolves to a private address' });
    assert.equal(lookup.calls.length, 2);
  });

  it('never asks DNS for an IP literal or a network.hosts name', async () => {
    const lookup = scripted(['8.8.8.8']);
    const r = new DestinationResolver(net({ hosts: { 'Static.Example.': '203.0.113.5', 'pub.example': '8.8.4.4' } }), lookup);
    assert.equal((await r.resolve({ host: '127.0.0.1', hostIsIp: true, port: 80 })).ok, false);
    assert.deepEqual(await r.resolve({ host: '::ffff:7f00:1', hostIsIp: true, port: 80 }), { ok: false, private: true, detail: '::ffff:7f00:1 resolves to a private address' });
    assert.deepEqual(await r.resolve({ host: 'static.example', hostIsIp: false, port: 80 }), { ok: false, private: true, detail: 'static.example resolves to a private address' });
    assert.deepEqual(await r.resolve({ host: 'pub.example', hostIsIp: false, port: 80 }), { ok: true, address: '8.8.4.4', family: 4 });
    assert.deepEqual(lookup.calls, []);
  });

  it('allow_cidrs lets an internal destination through; block_private off lets all through', async () => {
    const r = new DestinationResolver(net({ allowCidrs: ['10.20.0.0/16'] }), scripted(['10.20.3.4']));
    assert.deepEqual(await r.resolve({ host: 'internal.example', hostIsIp: false, port: 443 }), { ok: true, address: '10.20.3.4', family: 4 });
    const off = new DestinationResolver(net({ blockPrivate: false }), scripted(['127.0.0.1']));
    assert.deepEqual(await off.resolve({ host: 'x.example', hostIsIp: false, port: 443 }), { ok: true, address: '127.0.0.1', family: 4 });
  });

  it('a DNS failure is not private (the pipeline decides; nothing is connected)', async () => {
    const r = new DestinationResolver(net(), async () => { throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' }); });
    assert.deepEqual(await r.resolve({ host: 'nx.example', hostIsIp: false, port: 80 }), { ok: false, private: false, detail: 'cannot resolve nx.example (ENOTFOUND)' });
  });

  it("refuses the gate's own ports on this host even with block_private off", async () => {
    const r = new DestinationResolver(net({ blockPrivate: false, hosts: { 'me.example': '127.0.0.1' } }), { lookup: scripted(['127.0.0.1']), ownPorts: () => [3128, 3129] });
    for (const host of ['127.0.0.1', '127.0.0.7', '0.0.0.0', '::1', '::', '::ffff:7f00:1']) {
      const got = await r.resolve({ host, hostIsIp: true, port: 3129 });
      assert.deepEqual(got, { ok: false, private: true, detail: `${host}:3129 is the gate's own listener` }, host);
    }
    assert.equal((await r.resolve({ host: 'me.example', hostIsIp: false, port: 3128 })).ok, false);
    assert.equal((await r.resolve({ host: 'localhost', hostIsIp: false, port: 3129 })).ok, false);
    assert.equal((await r.resolve({ host: '127.0.0.1', hostIsIp: true, port: 3130 })).ok, true);
    assert.equal((await r.resolve({ host: '8.8.8.8', hostIsIp: true, port: 3129 })).ok, true);
  });

  it('isThisHost knows every interface address', () => {
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) assert.equal(isThisHost(i.address), true, i.address);
    assert.equal(isThisHost('8.8.8.8'), false);
  });
});
