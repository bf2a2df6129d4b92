/**
 * MCP tool calls as routes (SPEC §4), with the official SDK as server and client over
 * streamable HTTP, through the gate as a process: each tool of one POST /mcp endpoint is its
 * own surface/action; a permit for one tool does not pass for another; a batch is refused; the
 * streamed result (SSE) arrives incrementally; receipts record jsonrpc {method, tool}.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { permitClaims, readReceipts, receiptById, signPermit, type GateWorkspace } from '../harness.js';
import { mcpBehindGate, type GatedClient, type McpBehindGate, type McpOrigin } from './mcp-kit.js';

const sha = (b: string) => crypto.createHash('sha256').update(b).digest('base64url');

describe('MCP through the gate', () => {
  let origin: McpOrigin;
  let ws: GateWorkspace;
  let agent: GatedClient;
  let url = '';
  let setup: McpBehindGate | undefined;

  before(async () => {
    setup = await mcpBehindGate((m) => [
      m.tool('mcp', 'tools.unlisted', undefined, { authorize: 'deny' }),
      m.tool('issues', 'read', 'read_issue', { authorize: 'none' }),
      m.tool('issues', 'create', 'create_issue', { authorize: 'permit', bind_body: true }),
      m.tool('issues', 'comment', 'add_comment', { authorize: 'permit' }),
      m.tool('progress', 'count', 'count', { authorize: 'none' }),
    ]);
    ({ origin, ws, agent, url } = setup);
  });
  after(async () => { await setup?.stop(); });

  /** The problem the gate answered the client's last POST with, after the SDK call rejected. */
  async function refused(call: Promise<unknown>, reason: string, status = 403) {
    await assert.rejects(call, (e: Error) => e.message.includes(reason));
    const a = agent.answers.at(-1)!;
    assert.deepEqual([a.status, a.reason], [status, reason], JSON.stringify(a.body));
    return { answer: a, problem: a.body as Record<string, unknown>, receipt: receiptById(ws.receiptsDir, a.receipt!)!.payload };
  }
  const createPermit = (body: string, over: Record<string, unknown> = {}) => signPermit(ws.issuer, permitClaims({
    surface: 'issues', action: 'create', htm: 'POST', htu: url, extra: { req: { htm: 'POST', htu: url, bdh: sha(body) }, ...over },
  }));

  it('the session passes: initialize, notifications/initialized and tools/list, each recorded with its method', async () => {
    const { tools } = await agent.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['add_comment', 'count', 'create_issue', 'delete_repo', 'read_issue']);
    const methods = readReceipts(ws.receiptsDir).filter((r) => r.payload.kind === 'decision' && r.payload.jsonrpc).map((r) => [r.payload.jsonrpc.method, r.payload.action, r.payload.reason]);
    for (const m of ['initialize', 'notifications/initialized', 'tools/list']) assert.deepEqual(methods.find((x) => x[0] === m), [m, 'session', 'NO_PERMIT_REQUIRED'], m);
  });

  it('a permitted tool call works and its receipt records jsonrpc {method, tool}', async () => {
    const r = await agent.client.callTool({ name: 'read_issue', arguments: { id: 7 } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'issue 7' }]);
    const a = agent.answers.at(-1)!;
    const rec = receiptById(ws.receiptsDir, a.receipt!)!.payload;
    assert.deepEqual([rec.surface, rec.action, rec.decision, rec.jsonrpc], ['issues', 'read', 'PERMIT', { method: 'tools/call', tool: 'read_issue' }]);
    assert.equal(typeof rec.request.body_sha256, 'string');
  });

  it('another tool on the same endpoint is denied with its own surface/action, and never reaches the server', async () => {
    const { problem, receipt } = await refused(agent.client.callTool({ name: 'delete_repo', arguments: {} }), 'ROUTE_DENY');
    assert.deepEqual([problem.surface, problem.action], ['mcp', 'tools.unlisted']);
    assert.deepEqual(receipt.jsonrpc, { method: 'tools/call', tool: 'delete_repo' });
    assert.equal(origin.calls('delete_repo'), 0);
    const { problem: p2 } = await refused(agent.client.callTool({ name: 'create_issue', arguments: { title: 'x' } }), 'PERMIT_MISSING');
    assert.deepEqual([p2.surface, p2.action], ['issues', 'create']);
  });

  it('a permit bound to the exact call passes; for another tool it is PERMIT_SCOPE_MISMATCH, for other arguments PERMIT_BINDING_MISMATCH', async () => {
    agent.permitWith((body) => createPermit(body));
    try {
      const r = await agent.client.callTool({ name: 'create_issue', arguments: { title: 'bug' } });
      assert.deepEqual(r.content, [{ type: 'text', text: 'created bug' }]);
      assert.equal(agent.answers.at(-1)!.reason, null, 'forwarded answers carry no Egress-Reason');
      const { receipt } = await refused(agent.client.callTool({ name: 'add_comment', arguments: { body: 'hi' } }), 'PERMIT_SCOPE_MISMATCH');
      assert.deepEqual([receipt.action, receipt.jsonrpc], ['comment', { method: 'tools/call', tool: 'add_comment' }]);
      assert.equal(origin.calls('add_comment'), 0);
      // A permit for create_issue with one title, presented for another.
      const bound = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'create_issue', arguments: { title: 'bug' } } });
      agent.permitWith(() => createPermit(bound));
      await refused(agent.client.callTool({ name: 'create_issue', arguments: { title: 'other' } }), 'PERMIT_BINDING_MISMATCH');
      assert.equal(origin.calls('create_issue'), 1, 'only the permitted call reached the server');
    } finally {
      agent.permitWith(undefined);
    }
  });

  it('a batch is refused REQUEST_INVALID and never reaches the server', async () => {
    const before = origin.seen.length;
    const msg = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'tools/call', params: { name: 'read_issue', arguments: { id } } });
    await assert.rejects(agent.transport.send([msg(1), msg(2)]), /REQUEST_INVALID/);
    const a = agent.answers.at(-1)!;
    assert.deepEqual([a.status, a.reason], [400, 'REQUEST_INVALID']);
    assert.match(String((a.body as { detail: string }).detail), /a batch/);
    assert.equal(receiptById(ws.receiptsDir, a.receipt!)?.payload.jsonrpc, null);
    assert.equal(origin.seen.length, before);
  });

  it('the streamed result arrives incrementally: the client sees the first progress event before the tool ends', async () => {
    const seen: number[] = [];
    const r = await agent.client.callTool({ name: 'count', arguments: {} }, undefined, {
      onprogress: (p) => { seen.push(p.progress); if (p.progress === 1) origin.firstProgressSeen(); },
    });
    assert.deepEqual(r.content, [{ type: 'text', text: 'streamed' }]);
    assert.deepEqual(seen, [1, 2]);
    const rec = receiptById(ws.receiptsDir, agent.answers.at(-1)!.receipt!)!.payload;
    assert.deepEqual([rec.action, rec.jsonrpc], ['count', { method: 'tools/call', tool: 'count' }]);
  });
});
