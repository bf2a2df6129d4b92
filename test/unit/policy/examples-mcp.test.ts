// policy/examples/mcp.yaml, the README's worked MCP route map, routes each tool of its one
// endpoint as the README says, and reads no body for any other request of the dev default.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy } from '../../../policy/compile-policy.js';
import { examplesDir } from '../../../policy/examples-dir.js';
import { loadRouteMaps } from '../../../policy/load-route-maps.js';
import { normalizeRequest } from '../../../policy/normalize-request.js';
import { parseJsonRpcCall } from '../../../policy/parse-jsonrpc-call.js';

describe('policy/examples/mcp.yaml', () => {
  it('routes the session, each named tool and an unlisted tool', async () => {
    const { routes, exceptions } = await loadRouteMaps([examplesDir()]);
    const policy = compilePolicy({ routes, exceptions, sources: [] }, { nowMs: Date.now() });
    const req = normalizeRequest({ method: 'POST', target: 'https://mcp.issues.example/mcp' });
    assert.equal(policy.routesByBody(req), true);
    const route = (body: object) => policy.match(req, parseJsonRpcCall(Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...body }))));
    const table: [object, string, string][] = [
      [{ id: 1, method: 'initialize', params: {} }, 'session', 'none'],
      [{ method: 'notifications/initialized' }, 'session', 'none'],
      [{ id: 2, method: 'tools/list' }, 'session', 'none'],
      [{ id: 3, method: 'tools/call', params: { name: 'list_issues' } }, 'list', 'none'],
      [{ id: 4, method: 'tools/call', params: { name: 'create_issue', arguments: {} } }, 'create', 'permit'],
      [{ id: 5, method: 'tools/call', params: { name: 'delete_repo' } }, 'tools.unlisted', 'deny'],
    ];
    for (const [body, action, authorize] of table) {
      const r = route(body);
      assert.deepEqual([r?.action, r?.authorize], [action, authorize], JSON.stringify(body));
    }
    assert.equal(route({ id: 4, method: 'tools/call', params: { name: 'create_issue' } })?.bindBody, true);
    assert.equal(policy.match(normalizeRequest({ method: 'GET', target: 'https://mcp.issues.example/mcp' }))?.action, 'session.stream');
    for (const target of ['http://127.0.0.1:8000/notes', 'https://api.payments.example/v1/charges', 'https://www.example.com/']) {
      assert.equal(policy.routesByBody(normalizeRequest({ method: 'POST', target })), false, target);
    }
  });
});
