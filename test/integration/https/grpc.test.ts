/**
 * gRPC through the gate: a real @grpc/grpc-js server over TLS (a loopback test CA in
 * `tls.upstream_ca`) and a grpc-js client that trusts the gate CA and reaches the server
 * through the gate by `https_proxy`, as grpc-js reads it. A permitted unary and a
 * server-streaming call pass with their trailers; a denied call is PERMISSION_DENIED with the
 * reason in details and metadata, and nothing reaches the server for it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freePort, readReceipts, startGate, tmpDir, workspace, type GateProcess, type GateWorkspace } from '../harness.js';
import { makeCa, makeLeaf } from './kit.js';

const PROTO = `syntax = "proto3";
package egress.test;
message Msg { string text = 1; }
service Echo {
  rpc Say (Msg) returns (Msg);
  rpc Count (Msg) returns (stream Msg);
  rpc Secret (Msg) returns (Msg);
  rpc Missing (Msg) returns (Msg);
}
`;

describe('gRPC through CONNECT interception', () => {
  let ws: GateWorkspace;
  let gate: GateProcess;
  let server: grpc.Server;
  let G: number;
  let Echo: grpc.ServiceClientConstructor;
  const arrived: string[] = [];
  let client: grpc.Client & Record<string, any>;
  /** The same service at a port nothing listens on (the upstream fails). */
  let deadClient: grpc.Client & Record<string, any>;
  let dead: number;

  before(async () => {
    const dir = tmpDir('eg-grpc-');
    const pki = path.join(dir, 'origin-pki');
    const originCa = await makeCa(pki, 'origin-ca');
    const leaf = await makeLeaf(pki, originCa, 'grpc', ['api.it']);
    fs.writeFileSync(path.join(dir, 'echo.proto'), PROTO);
    const def = protoLoader.loadSync(path.join(dir, 'echo.proto'));
    Echo = (grpc.loadPackageDefinition(def) as any).egress.test.Echo;
    server = new grpc.Server();
    server.addService(Echo.service, {
      Say(call: any, cb: any) {
        arrived.push('Say');
        const t = new grpc.Metadata(); t.set('x-origin-trailer', 'say');
        cb(null, { text: `hello ${call.request.text}` }, t);
      },
      Count(call: any) {
        arrived.push('Count');
        for (let i = 1; i <= 3; i++) call.write({ text: `${call.request.text}-${i}` });
        const t = new grpc.Metadata(); t.set('x-origin-trailer', 'count');
        call.end(t);
      },
      Secret(_call: any, cb: any) { arrived.push('Secret'); cb(null, { text: 'leaked' }); },
      Missing(_call: any, cb: any) { arrived.push('Missing'); cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' }); },
    });
    G = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
      grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(leaf.keyPem), cert_chain: Buffer.from(leaf.certPem) }]),
      (e, port) => (e ? reject(e) : resolve(port))));
    const m = (p: string, port = G) => ({ scheme: 'https', host: 'api.it', port, method: 'POST', path: p });
    dead = await freePort();
    const deciderDown = await freePort();
    ws = await workspace({
      dir,
      routes: {
        routes: [
          { surface: 'echo', action: 'say', match: m('/egress.test.Echo/Say'), authorize: 'none' },
          { surface: 'echo', action: 'count', match: m('/egress.test.Echo/Count'), authorize: 'none' },
          { surface: 'echo', action: 'missing', match: m('/egress.test.Echo/Missing'), authorize: 'none' },
          { surface: 'echo', action: 'secret', match: m('/egress.test.Echo/Secret'), authorize: 'deny' },
          { surface: 'echo', action: 'asked', match: m('/egress.test.Echo/Say', dead), authorize: 'online' },
          { surface: 'echo', action: 'gone', match: m('/egress.test.Echo/Count', dead), authorize: 'none' },
        ],
      },
      config: (c) => {
        c.tls.upstream_ca = [originCa.certPath];
        c.decider = { url: `http://127.0.0.1:${deciderDown}/v1/data/egress/decision`, timeout: '250ms' };
      },
    });
    gate = await startGate(ws);
    // grpc-js reads the proxy from the environment when the channel is made.
    const saved = { https_proxy: process.env.https_proxy, no_proxy: process.env.no_proxy, grpc_proxy: process.env.grpc_proxy };
    process.env.https_proxy = `http://127.0.0.1:${ws.listenPort}`;
    delete process.env.no_proxy; delete process.env.grpc_proxy;
    try {
      client = new Echo(`api.it:${G}`, grpc.credentials.createSsl(fs.readFileSync(ws.caCert))) as any;
      deadClient = new Echo(`api.it:${dead}`, grpc.credentials.createSsl(fs.readFileSync(ws.caCert))) as any;
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    }
  });
  after(async () => { client?.close(); deadClient?.close(); server?.forceShutdown(); await gate?.stop(); });

  const unary = (method: string, text: string, on = client) => new Promise<{ err: grpc.ServiceError | null; res: any; headers: grpc.Metadata | undefined; trailers: grpc.Metadata | undefined }>((resolve) => {
    let headers: grpc.Metadata | undefined;
    let trailers: grpc.Metadata | undefined;
    const call = on[method]({ text }, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: any) => setImmediate(() => resolve({ err, res, headers, trailers })));
    call.on('metadata', (md: grpc.Metadata) => { headers = md; });
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; });
  });

  it('a permitted unary call passes with its trailers', async () => {
    const r = await unary('Say', 'gate');
    assert.equal(r.err, null, String(r.err));
    assert.equal(r.res.text, 'hello gate');
    assert.deepEqual(r.trailers?.get('x-origin-trailer'), ['say']);
    assert.equal(r.headers?.get('egress-decision')[0], 'PERMIT');
    const id = String(r.headers?.get('egress-receipt')[0]);
    const d = readReceipts(ws.receiptsDir).find((x) => x.payload.id === id);
    assert.equal(d?.payload.request.url, `https://api.it:${G}/egress.test.Echo/Say`);
    assert.equal(d?.payload.action, 'say');
  });

  it('a permitted server-streaming call passes every message and its trailers', async () => {
    const got: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.Count({ text: 'n' });
      call.on('data', (m: any) => got.push(m.text));
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    assert.equal(status.code, grpc.status.OK, status.details);
    assert.deepEqual(got, ['n-1', 'n-2', 'n-3']);
    assert.deepEqual(status.metadata.get('x-origin-trailer'), ['count']);
  });

  it("an origin's error status (a Trailers-Only answer) reaches the client as that status", async () => {
    const r = await unary('Missing', 'x');
    assert.equal(r.err?.code, grpc.status.NOT_FOUND);
    assert.equal(r.err?.details, 'no such thing');
    assert.ok(arrived.includes('Missing'));
  });

  it('a denied call is PERMISSION_DENIED with the reason, and never reaches the server', async () => {
    const r = await unary('Secret', 'x');
    assert.equal(r.err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(r.err?.details, 'ROUTE_DENY');
    assert.deepEqual(r.err?.metadata.get('egress-reason'), ['ROUTE_DENY']);
    assert.equal(r.headers?.get('egress-decision')[0], 'DENY');
    assert.ok(!arrived.includes('Secret'), 'the denied call reached the server');
    const id = String(r.err?.metadata.get('egress-receipt')[0]);
    const d = readReceipts(ws.receiptsDir).find((x) => x.payload.id === id);
    assert.equal(d?.payload.decision, 'DENY');
    assert.equal(d?.payload.reason, 'ROUTE_DENY');
  });

  it('a SILENCE (the decider cannot be asked) is UNAVAILABLE with the reason, and never reaches a server', async () => {
    const r = await unary('Say', 'x', deadClient);
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(r.err?.details, 'DECIDER_ERROR');
    assert.deepEqual(r.err?.metadata.get('egress-reason'), ['DECIDER_ERROR']);
    const id = String(r.err?.metadata.get('egress-receipt')[0]);
    const d = readReceipts(ws.receiptsDir).find((x) => x.payload.id === id);
    assert.equal(d?.payload.decision, 'SILENCE');
    assert.equal(d?.payload.reason, 'DECIDER_ERROR');
  });

  it('a permitted call whose upstream cannot be reached is UNAVAILABLE (UPSTREAM_ERROR) with its PERMIT receipt and outcome, not a 502 page', async () => {
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = deadClient.Count({ text: 'n' }, { deadline: Date.now() + 10_000 });
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    assert.equal(status.code, grpc.status.UNAVAILABLE, `${status.code} ${status.details} ${JSON.stringify(status.metadata.getMap())}`);
    assert.equal(status.details, 'UPSTREAM_ERROR');
    assert.deepEqual(status.metadata.get('egress-decision'), ['PERMIT']);
    const id = String(status.metadata.get('egress-receipt')[0]);
    const d = readReceipts(ws.receiptsDir).find((x) => x.payload.id === id);
    assert.equal(d?.payload.decision, 'PERMIT');
    assert.equal(d?.payload.action, 'gone');
    let o;
    for (let i = 0; i < 40 && !(o = readReceipts(ws.receiptsDir).find((x) => x.payload.kind === 'outcome' && x.payload.of === id)); i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(o?.payload.status, null);
    assert.match(String(o?.payload.error), /ECONNREFUSED|connect|refused/i);
  });
});
