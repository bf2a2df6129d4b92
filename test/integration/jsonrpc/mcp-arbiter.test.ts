/**
 * Permits for MCP tool calls from the arbiter (SPEC §12 with §4's jsonrpc routes): the SDK's
 * requestPermit names the call its body holds, the arbiter matches the tool's own route and
 * grant, and the gate forwards the call with that permit. A request that names no call for an
 * endpoint routed by calls is REQUEST_INVALID; a call named falsely gains nothing at the gate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { PermitRequestError, requestPermit } from '../../../sdk/index.js';
import { GATE_ID, SUBJECT, viaProxy, type GateWorkspace } from '../harness.js';
import { api, arbiterWorkspace, startArbiterProcess, type ArbiterProcess, type ArbiterWorkspace } from '../arbiter/arbiter-harness.js';
import { mcpBehindGate, type GatedClient, type McpBehindGate, type McpOrigin } from './mcp-kit.js';

const sha = (s: string) => crypto.createHash('sha256').update(s).digest('base64url');
const call = (name: string, args: object) => JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name, arguments: args } });

describe('MCP permits from the arbiter', () => {
  let origin: McpOrigin;
  let gws: GateWorkspace;
  let aws: ArbiterWorkspace;
  let arbiter: ArbiterProcess;
  let agent: GatedClient;
  let url = '';
  let setup: McpBehindGate | undefined;

  before(async () => {
    setup = await mcpBehindGate((m) => [
      m.tool('issues', 'create', 'create_issue', { authorize: 'permit', bind_body: true }),
      m.tool('issues', 'comment', 'add_comment', { authorize: 'permit', bind_body: true }),
    ]);
    ({ origin, ws: gws, agent, url } = setup);
    aws = await arbiterWorkspace({
      dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'),
      config: (c) => { c.grants = [{ subject: SUBJECT, surface: 'issues', action: 'create', gates: [GATE_ID], approve: 'auto' }]; },
    });
    arbiter = await startArbiterProcess(aws);
  });
  after(async () => { await arbiter?.stop(); await setup?.stop(); });

  const ask = (body: string) => requestPermit({ arbiter: aws.url, token: aws.tokens.agent!, gate: GATE_ID, method: 'POST', url, body });

  it('requestPermit names the call: the arbiter grants the tool, the gate forwards the exact call', async () => {
    agent.permitWith(async (body) => (await ask(body)).permit);
    try {
      const r = await agent.client.callTool({ name: 'create_issue', arguments: { title: 'from the arbiter' } });
      assert.deepEqual(r.content, [{ type: 'text', text: 'created from the arbiter' }]);
      assert.equal(origin.calls('create_issue'), 1);
    } finally {
      agent.permitWith(undefined);
    }
  });

  it('another tool of the endpoint is matched to its own route: no grant for it', async () => {
    await assert.rejects(ask(call('add_comment', { body: 'x' })), (e: unknown) => e instanceof PermitRequestError && e.reason === 'NO_GRANT' && e.message.includes('issues/comment at gate'));
  });

  it('an endpoint routed by calls needs the call named; a malformed one is refused', async () => {
    const body = call('create_issue', { title: 't' });
    const none = await api(aws, aws.tokens.agent, 'POST', '/v1/permits', { gate: GATE_ID, request: { method: 'POST', url, body_sha256: sha(body) } });
    assert.deepEqual([none.status, none.json.reason], [403, 'REQUEST_INVALID']);
    assert.match(none.json.detail, /chosen by the JSON-RPC call in its body: name it in request\.jsonrpc/);
    const noTool = await api(aws, aws.tokens.agent, 'POST', '/v1/permits', { gate: GATE_ID, request: { method: 'POST', url, body_sha256: sha(body), jsonrpc: { method: 'tools/call' } } });
    assert.deepEqual([noTool.json.reason, /"tool" must be the tool's name/.test(noTool.json.detail)], ['REQUEST_INVALID', true]);
  });

  it('a call named falsely gains nothing: the gate routes the body it reads (PERMIT_SCOPE_MISMATCH)', async () => {
    const comment = call('add_comment', { body: 'sneaky' });
    const lie = await api(aws, aws.tokens.agent, 'POST', '/v1/permits', {
      gate: GATE_ID, request: { method: 'POST', url, body_sha256: sha(comment), jsonrpc: { method: 'tools/call', tool: 'create_issue' } },
    });
    assert.equal(lie.status, 201, JSON.stringify(lie.json));
    const r = await viaProxy(gws.listenPort, url, {
      method: 'POST', body: comment,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'egress-permit': lie.json.permit },
    });
    assert.deepEqual([r.status, r.headers['egress-reason'], r.json?.action], [403, 'PERMIT_SCOPE_MISMATCH', 'comment']);
    assert.equal(origin.calls('add_comment'), 0);
  });
});
