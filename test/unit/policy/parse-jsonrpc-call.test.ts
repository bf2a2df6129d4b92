/** A body as one JSON-RPC 2.0 request object (SPEC §4): what routes match, and everything else REQUEST_INVALID. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsonRpcCallIn, MAX_JSONRPC_NAME, parseJsonRpcCall, readJsonRpcClaim, repeatedKey } from '../../../policy/parse-jsonrpc-call.js';
import { RequestInvalidError } from '../../../policy/request-invalid-error.js';

const parse = (text: string | Buffer) => parseJsonRpcCall(Buffer.isBuffer(text) ? text : Buffer.from(text));

describe('parseJsonRpcCall: requests', () => {
  const table: [string, string, object][] = [
    ['a tools/call names its tool', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_issue","arguments":{"t":"x"}}}', { method: 'tools/call', tool: 'create_issue', notification: false }],
    ['another method has no tool', '{"jsonrpc":"2.0","id":"a","method":"tools/list"}', { method: 'tools/list', notification: false }],
    ['a notification has no id', '{"jsonrpc":"2.0","method":"notifications/initialized"}', { method: 'notifications/initialized', notification: true }],
    ['id null is still a request', '{"jsonrpc":"2.0","id":null,"method":"ping","params":[]}', { method: 'ping', notification: false }],
    ['escaped names are read decoded', '{"jsonrpc":"2.0","id":1,"method":"tools\\/call","params":{"name":"cre\\u0061te"}}', { method: 'tools/call', tool: 'create', notification: false }],
    ['whitespace around it', ' \n{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n', { method: 'initialize', notification: false }],
  ];
  for (const [name, text, want] of table) it(name, () => assert.deepEqual(parse(text), want));
});

describe('parseJsonRpcCall: REQUEST_INVALID', () => {
  const table: [string, string | Buffer, RegExp][] = [
    ['a batch', '[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', /a batch/],
    ['an empty batch', '[]', /a batch/],
    ['empty', '', /it is empty/],
    ['invalid JSON', '{"jsonrpc":"2.0",', /not JSON/],
    ['a string', '"tools/call"', /not a JSON object/],
    ['null', 'null', /not a JSON object/],
    ['no method', '{"jsonrpc":"2.0","id":1}', /no string "method"$/],
    ['a response (result)', '{"jsonrpc":"2.0","id":1,"result":{}}', /no string "method" \(it is a response\)/],
    ['a response (error)', '{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}', /\(it is a response\)/],
    ['a method that is not a string', '{"jsonrpc":"2.0","id":1,"method":7}', /no string "method"/],
    ['no jsonrpc member', '{"id":1,"method":"tools/list"}', /"jsonrpc" is not "2.0"/],
    ['JSON-RPC 1.0', '{"jsonrpc":"1.0","id":1,"method":"tools/list"}', /"jsonrpc" is not "2.0"/],
    ['an object id', '{"jsonrpc":"2.0","id":{},"method":"x"}', /"id" is not/],
    ['scalar params', '{"jsonrpc":"2.0","id":1,"method":"x","params":3}', /"params" is not/],
    ['an empty method', '{"jsonrpc":"2.0","id":1,"method":""}', /"method" must have 1 to 256/],
    ['a method too long to record', `{"jsonrpc":"2.0","id":1,"method":"${'m'.repeat(MAX_JSONRPC_NAME + 1)}"}`, /"method" must have/],
    ['a tools/call without a tool', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}', /needs "params.name"/],
    ['a tools/call with params as an array', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["create_issue"]}', /needs "params.name"/],
    ['a tools/call whose tool is not a string', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}}', /needs "params.name"/],
    ['a repeated method', '{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}', /repeats the key "method"/],
    ['a repeated tool name, one spelled with an escape', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","n\\u0061me":"delete"}}', /repeats the key "name"/],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"'), Buffer.from([0xff]), Buffer.from('"}')]), /not UTF-8/],
    ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"jsonrpc":"2.0","id":1,"method":"x"}')]), /not JSON/],
  ];
  for (const [name, body, why] of table) {
    it(name, () => assert.throws(() => parse(body), (e: unknown) => e instanceof RequestInvalidError && e.code === 'REQUEST_INVALID' && why.test(e.message) && e.message.startsWith('the body is not one JSON-RPC 2.0 request: ')));
  }
});

describe('repeatedKey', () => {
  const table: [string, string | undefined][] = [
    ['{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}', undefined],
    ['{"a":"{\\"a\\":1,\\"a\\":2}"}', undefined],
    ['{"a":[1,{"b":1}],"a":2}', 'a'],
    ['{"x":{"k":1,"k":2}}', 'k'],
    ['[{"k":1},{"k":1,"k":2}]', 'k'],
    ['{"a\\\\":1,"a\\\\":2}', 'a\\'],
    [`${'['.repeat(100000)}${']'.repeat(100000)}`, undefined],
  ];
  for (const [text, want] of table) it(`${text.slice(0, 40)} -> ${String(want)}`, () => assert.equal(repeatedKey(text), want));
});

describe('readJsonRpcClaim: a call named without its body (the arbiter)', () => {
  it('reads {method, tool}: the tool for tools/call only', () => {
    assert.deepEqual(readJsonRpcClaim({ method: 'tools/call', tool: 'create_issue' }), { method: 'tools/call', tool: 'create_issue', notification: false });
    assert.deepEqual(readJsonRpcClaim({ method: 'tools/list' }), { method: 'tools/list', notification: false });
  });
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'tools/call', /must be an object/],
    ['an array', [], /must be an object/],
    ['no method', { tool: 'x' }, /"method" must be a string/],
    ['tools/call without its tool', { method: 'tools/call' }, /"tool" must be the tool's name/],
    ['a tool for another method', { method: 'tools/list', tool: 'x' }, /only for method tools\/call/],
    ['an unknown member', { method: 'x', params: {} }, /unknown members \(params\)/],
  ];
  for (const [name, v, why] of bad) it(`refuses ${name}`, () => assert.throws(() => readJsonRpcClaim(v), (e: unknown) => e instanceof RequestInvalidError && why.test(e.message)));
});

describe('jsonRpcCallIn', () => {
  it('the call of a JSON-RPC body, undefined for any other body', () => {
    assert.deepEqual(jsonRpcCallIn('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t"}}'), { method: 'tools/call', tool: 't', notification: false });
    assert.equal(jsonRpcCallIn('{"amount":100}'), undefined);
    assert.equal(jsonRpcCallIn(new Uint8Array([0xff])), undefined);
  });
});
