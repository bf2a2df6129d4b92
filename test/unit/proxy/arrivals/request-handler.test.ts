/**
 * RequestHandler: an exception thrown inside the decision path is SILENCE INTERNAL_ERROR —
 * 503 problem+json, a decision receipt that says so — and nothing is forwarded (README: "Any
 * exception before the receipt is written becomes SILENCE INTERNAL_ERROR"). No black-box test
 * can inject such an exception, so this one builds the pipeline directly, with real node:http
 * request/response objects from a loopback server whose handler is handler.handle().
 *
 * Porting note: the pipeline's construction and its dependencies live only in pipelineKit()
 * below; when the class is renamed or moved, that helper (and the imports) is what changes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { compilePolicy } from '../../../../policy/compile-policy.js';
import { parseConfig } from '../../../../policy/load-config.js';
import { loadRouteMaps } from '../../../../policy/load-route-maps.js';
import type { CompiledPolicy } from '../../../../policy/types.js';
import { RequestHandler } from '../../../../proxy/arrivals/request-handler.js';
import { createLogger } from '../../../../runtime/logger.js';
import { createMetrics } from '../../../../proxy/observe/metrics.js';
import { DecisionChain } from '../../../../proxy/pipeline/decision-chain.js';
import type { Forwarder, ForwardRequest, ForwardResult } from '../../../../proxy/pipeline/forward.js';
import { Recorder } from '../../../../proxy/pipeline/record.js';
import { DestinationResolver } from '../../../../proxy/pipeline/resolve-destination.js';
import { tmpDir } from '../../../kit/keys.js';

/** Everything the pipeline under test is built from, and what the test observes. */
function pipelineKit() {
  const config = parseConfig([
    'gate: { id: gate-unit, subject: "agent:unit", mode: enforce }',
    'policy: { routes: [./routes/] }',
    'network: { block_private: false, hosts: { api.unit: 127.0.0.1 } }',
  ].join('\n'), '/nonexistent/egress-gate.yaml', { hostname: 'unit' });
  const matched: string[] = [];
  const policy: CompiledPolicy = {
    version: 'v-unit', digest: 'd-unit', routes: [], exceptions: [], warnings: [],
    match(req) { matched.push(req.url); throw new Error('boom: match() failed'); },
    routesByBody: () => false,
    canMatchAuthority: () => true,
    matchTunnel: () => undefined,
    exceptionFor: () => undefined,
  };
  /** Decision and outcome receipts, in append order. */
  const receipts: { id: string; seq: number; body: Record<string, any> }[] = [];
  const sink = {
    async append(body: Record<string, unknown>) {
      const r = { id: `r-${receipts.length}`, seq: receipts.length, body: body as Record<string, any> };
      receipts.push(r);
      return { id: r.id, seq: r.seq };
    },
  };
  /** Every call that reached the forwarder (must stay empty here). */
  const forwarded: ForwardRequest[] = [];
  const forwarder = {
    async forward(_cleared: unknown, f: ForwardRequest): Promise<ForwardResult> {
      forwarded.push(f);
      f.res.writeHead(200, { ...f.answerHeaders, 'x-forwarded-by-spy': 'yes' });
      f.res.end('forwarded');
      return { status: 200, bytesUp: 0, bytesDown: 9, timedOut: false, headersSent: true };
    },
    async close() { /* nothing pooled */ },
  } as unknown as Forwarder;
  const log = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const resolver = new DestinationResolver(config.network);
  const chain = new DecisionChain({ config, gateId: config.gate.id, subject: config.gate.subject, clock: Date.now, log, policy: () => policy, resolver });
  const recorder = new Recorder({ config, receipts: sink, metrics, log });
  return { handler: new RequestHandler({ chain, recorder, resolver, forwarder, metrics }), receipts, forwarded, matched };
}

describe('RequestHandler: an exception in the decision path', () => {
  const kit = pipelineKit();
  let server: http.Server;
  let port: number;
  before(async () => {
    server = http.createServer((req, res) => { void kit.handler.handle(req, res, { scheme: 'http' }); });
    port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  });
  after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: url, headers: { host: u.host }, agent: false, setHost: false }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(c).toString('utf8') }));
      });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('request timeout')));
      req.end();
    });
  }

  it('is SILENCE INTERNAL_ERROR: 503 problem+json, a decision receipt saying so, and the forwarder is never called', async () => {
    const a = await get('http://api.unit:8080/v1/things');
    assert.deepEqual(kit.matched, ['http://api.unit:8080/v1/things'], 'the request reached match(), which threw');
    assert.equal(kit.forwarded.length, 0, `the forwarder was called (${kit.forwarded.length}×) after an exception`);
    assert.equal(a.status, 503, a.text);
    assert.match(String(a.headers['content-type']), /^application\/problem\+json/);
    assert.equal(a.headers['egress-decision'], 'SILENCE');
    assert.equal(a.headers['egress-reason'], 'INTERNAL_ERROR');
    assert.ok(a.headers['retry-after'], 'Retry-After on SILENCE');
    const problem = JSON.parse(a.text);
    assert.equal(problem.decision, 'SILENCE');
    assert.equal(problem.reason, 'INTERNAL_ERROR');
    assert.equal(problem.type, 'urn:egress-gate:reason:INTERNAL_ERROR');
    assert.doesNotMatch(a.text, /boom/, 'the exception\'s message is not shown to the agent');

    assert.equal(kit.receipts.length, 1, 'exactly one receipt: the decision, no outcome');
    const [rec] = kit.receipts;
    assert.equal(rec!.body.kind, 'decision');
    assert.equal(rec!.body.decision, 'SILENCE');
    assert.equal(rec!.body.reason, 'INTERNAL_ERROR');
    assert.equal(rec!.body.enforced, true);
    assert.equal(rec!.body.request?.url, 'http://api.unit:8080/v1/things');
    assert.equal(rec!.body.credential, null);
    assert.equal(problem.receipt, rec!.id);
    assert.equal(a.headers['egress-receipt'], rec!.id);
  });
});

describe('RequestHandler: an exception in the forwarder, after the decision', () => {
  // The forwarder resolves by design; were it to reject (a bug), an h2 stream has no
  // connection turn to catch it and the gate would die of an unhandled rejection.
  let server: http.Server;
  let port: number;
  const receipts: Record<string, any>[] = [];
  let handled: Promise<unknown> | undefined;
  before(async () => {
    const dir = tmpDir('eg-rh-');
    fs.writeFileSync(path.join(dir, 'open.yaml'), 'routes:\n  - { surface: things, action: read, match: { host: api.unit, port: 8080, method: GET, path: "/**" }, authorize: none }\n');
    const { routes, exceptions } = await loadRouteMaps([dir]);
    const policy = compilePolicy({ routes, exceptions, sources: [] }, { nowMs: Date.now() });
    const config = parseConfig('gate: { id: gate-unit }\npolicy: { routes: [./routes/] }\nnetwork: { block_private: false, hosts: { api.unit: 127.0.0.1 } }\n', '/nonexistent/egress-gate.yaml', { hostname: 'unit' });
    const log = createLogger({ level: 'silent' });
    const metrics = createMetrics();
    const resolver = new DestinationResolver(config.network);
    const chain = new DecisionChain({ config, gateId: config.gate.id, subject: config.gate.subject, clock: Date.now, log, policy: () => policy, resolver });
    const sink = { async append(body: Record<string, unknown>) { receipts.push(body); return { id: `r-${receipts.length - 1}`, seq: receipts.length - 1 }; } };
    const recorder = new Recorder({ config, receipts: sink, metrics, log });
    const forwarder = { async forward(): Promise<ForwardResult> { throw new Error('boom: the forwarder threw'); }, async close() { /* nothing pooled */ } } as unknown as Forwarder;
    const handler = new RequestHandler({ chain, recorder, resolver, forwarder, metrics });
    server = http.createServer((req, res) => { handled = handler.handle(req, res, { scheme: 'http' }); });
    port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  });
  after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

  it('is answered 502 with the decision\'s receipt, recorded as an outcome with the error, and handle() resolves', async () => {
    const a = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'GET', path: 'http://api.unit:8080/x', headers: { host: 'api.unit:8080' }, agent: false, setHost: false }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(c).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await handled, 'close', 'handle() resolved; it did not reject');
    assert.equal(a.status, 502, a.text);
    assert.equal(a.headers['egress-decision'], 'PERMIT');
    assert.deepEqual(receipts.map((r) => r.kind), ['decision', 'outcome']);
    assert.equal(receipts[0]!.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(receipts[1]!.status, null);
    assert.match(receipts[1]!.error, /^internal error while forwarding: boom/);
    assert.equal(a.headers['egress-receipt'], 'r-0');
  });
});
