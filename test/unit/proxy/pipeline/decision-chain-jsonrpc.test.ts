/**
 * The decision chain with `jsonrpc` routes (SPEC §4): the body is read only for requests whose
 * route it chooses, once, bounded by max_bound_body, kept for the forwarder, and the decision
 * entry records the call.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { route } from '../../policy/route-factory.js';
import { BodyTooLargeError, bufferBody, type BodySource } from '../../../../proxy/pipeline/read-body.js';
import { chainWith, config, head, MemorySink, policyOf, PROXY, recorderWith } from './pipeline-kit.js';

const mcp = (action: string, authorize: 'none' | 'deny' | 'permit', jsonrpc: { method: string; tool?: string }, extra = {}) =>
  route({ surface: 'mcp', action, authorize, match: { host: 'mcp.test', path: '/mcp', methods: ['POST'], jsonrpc }, ...extra });
const policy = policyOf([
  mcp('session', 'none', { method: '*' }),
  mcp('tools.read', 'none', { method: 'tools/call', tool: 'read_issue' }),
  mcp('tools.delete', 'deny', { method: 'tools/call', tool: 'delete_repo' }),
  route({ surface: 'mcp', action: 'stream', authorize: 'none', match: { host: 'mcp.test', path: '/mcp', methods: ['GET', 'DELETE'] } }),
  route({ surface: 'api', action: 'upload', authorize: 'none', match: { host: 'api.test', methods: ['POST'] } }),
]);
const chain = chainWith({ policy: () => policy, extra: { config: { ...config, limits: { maxBoundBody: 512 } } as typeof config } });

/** A body source that counts its reads. */
function spied(text: string): BodySource & { reads: number } {
  const inner = bufferBody(Buffer.from(text));
  const s = { reads: 0, contentLength: inner.contentLength, read: (max: number) => { s.reads++; return inner.read(max); } };
  return s;
}
const toolCall = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name, arguments: {} } });
const decide = (method: string, url: string, body: BodySource) => chain.decideRequest({ head: head(method, url), arrival: PROXY, body });

describe('DecisionChain: jsonrpc routes', () => {
  it('routes by tool: the named tool, its own surface/action, the body kept as read for the forwarder', async () => {
    const text = toolCall('read_issue');
    const body = spied(text);
    const d = await decide('POST', 'http://mcp.test/mcp', body);
    assert.equal(d.verdict.decision.reason, 'NO_PERMIT_REQUIRED');
    assert.equal(d.verdict.decision.action, 'tools.read');
    assert.deepEqual(d.attempt.jsonrpc, { method: 'tools/call', tool: 'read_issue', notification: false });
    assert.equal(d.attempt.body?.toString(), text);
    assert.equal(body.reads, 1, 'read once');
    assert.ok(d.attempt.bodySha256);
  });

  it('another tool on the same endpoint gets its own route and reason', async () => {
    const d = await decide('POST', 'http://mcp.test/mcp', spied(toolCall('delete_repo')));
    assert.deepEqual([d.verdict.decision.reason, d.verdict.decision.action, d.verdict.forward], ['ROUTE_DENY', 'tools.delete', false]);
  });

  it('a method no named route takes falls to method "*"', async () => {
    const d = await decide('POST', 'http://mcp.test/mcp', spied('{"jsonrpc":"2.0","method":"notifications/initialized"}'));
    assert.equal(d.verdict.decision.action, 'session');
    assert.equal(d.attempt.jsonrpc?.notification, true);
  });

  it('a batch is REQUEST_INVALID, closes the connection, and names no route', async () => {
    const d = await decide('POST', 'http://mcp.test/mcp', spied(`[${toolCall('read_issue')}]`));
    assert.equal(d.verdict.decision.reason, 'REQUEST_INVALID');
    assert.match(d.verdict.decision.detail, /a batch/);
    assert.equal(d.attempt.close, true);
    assert.equal(d.verdict.decision.surface, undefined);
    assert.equal(d.verdict.forward, false);
  });

  it('a body past max_bound_body is BODY_TOO_LARGE, by Content-Length before reading and while reading', async () => {
    const declared = spied(toolCall('x'.repeat(600)));
    const d = await decide('POST', 'http://mcp.test/mcp', declared);
    assert.equal(d.verdict.decision.reason, 'BODY_TOO_LARGE');
    assert.equal(declared.reads, 0, 'refused by its Content-Length');
    assert.equal(d.attempt.close, true);
    const undeclared: BodySource = { read: async (max) => { if (max < 600) throw new BodyTooLargeError('the body exceeds max_bound_body (512 bytes)'); return Buffer.alloc(0); } };
    assert.equal((await decide('POST', 'http://mcp.test/mcp', undeclared)).verdict.decision.reason, 'BODY_TOO_LARGE');
  });

  it('requests whose route the body does not choose are not read', async () => {
    for (const [method, url] of [['GET', 'http://mcp.test/mcp'], ['DELETE', 'http://mcp.test/mcp'], ['POST', 'http://api.test/upload']] as const) {
      const body = spied('[not json at all');
      const d = await decide(method, url, body);
      assert.equal(d.verdict.decision.reason, 'NO_PERMIT_REQUIRED', `${method} ${url}`);
      assert.equal(body.reads, 0, `${method} ${url}: body streamed, not read`);
      assert.equal(d.attempt.body, undefined);
      assert.equal(d.attempt.jsonrpc, undefined);
    }
  });

  it('an unmatched call says which call in its detail', async () => {
    const only = policyOf([mcp('read', 'none', { method: 'tools/call', tool: 'read_issue' })]);
    const d = await chainWith({ policy: () => only, extra: { config: { ...config, limits: { maxBoundBody: 512 } } as typeof config } })
      .decideRequest({ head: head('POST', 'http://mcp.test/mcp'), arrival: PROXY, body: spied(toolCall('other')) });
    assert.equal(d.verdict.decision.detail, 'no route matches POST http://mcp.test/mcp (JSON-RPC tools/call tool other)');
  });

  it('the decision entry records jsonrpc {method, tool}', async () => {
    const sink = new MemorySink();
    const { recorder } = recorderWith(sink);
    await recorder.decision(await decide('POST', 'http://mcp.test/mcp', spied(toolCall('delete_repo'))));
    await recorder.decision(await decide('POST', 'http://mcp.test/mcp', spied('{"jsonrpc":"2.0","id":1,"method":"tools/list"}')));
    await recorder.decision(await decide('GET', 'http://mcp.test/mcp', spied('')));
    assert.deepEqual(sink.entries.map((e) => e.jsonrpc), [{ method: 'tools/call', tool: 'delete_repo' }, { method: 'tools/list', tool: null }, null]);
    assert.equal(typeof (sink.entries[0]!.request as { body_sha256: unknown }).body_sha256, 'string', 'the body read is recorded by digest');
  });
});
