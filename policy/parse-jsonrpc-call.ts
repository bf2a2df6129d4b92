/**
 * A request body as one JSON-RPC 2.0 request object (SPEC §4; MCP over HTTP): what a route's
 * `jsonrpc` clause is matched against. Anything else is `REQUEST_INVALID`: invalid UTF-8 or
 * JSON, a batch (an array: MCP no longer allows them), a response (no `method`: `result` or
 * `error`), a member of the wrong type.
 *
 * Soundness: the gate must read the call the server will read. So the body is decoded
 * strictly (fatal UTF-8, no BOM dropped), and an object with a repeated key anywhere is
 * refused: parsers differ on which of two `"name"`s wins, and the gate would route one tool
 * while the server ran the other. The bytes are then forwarded exactly as read.
 */
import { RequestInvalidError } from './request-invalid-error.js';
import type { JsonRpcCall } from './types.js';

/** The one JSON-RPC method whose `params.name` (the tool, MCP) routes match by `tool`. */
export const TOOLS_CALL = 'tools/call';

/** The longest method or tool name the gate routes and records. */
export const MAX_JSONRPC_NAME = 256;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(why: string): never {
  throw new RequestInvalidError(`the body is not one JSON-RPC 2.0 request: ${why}`);
}

/**
 * The method and tool of the one JSON-RPC 2.0 request `body` holds. A request has
 * `"jsonrpc": "2.0"` and a string `method`; `id` (a string, number or null) is optional — without
 * it the request is a notification; `params`, when present, is an object or an array. A
 * `tools/call` must name its tool: `params.name`, a string.
 *
 * @throws RequestInvalidError for any other body.
 */
export function parseJsonRpcCall(body: Uint8Array): JsonRpcCall {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    invalid('it is not UTF-8');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    invalid(body.length === 0 ? 'it is empty' : 'it is not JSON');
  }
  if (Array.isArray(doc)) invalid('it is a batch (an array), which the gate does not route');
  if (doc === null || typeof doc !== 'object') invalid('it is not a JSON object');
  const dup = repeatedKey(text);
  if (dup !== undefined) invalid(`an object repeats the key ${JSON.stringify(dup.slice(0, 40))}`);
  const m = doc as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') invalid('"jsonrpc" is not "2.0"');
  if (typeof m.method !== 'string') {
    invalid('it has no string "method"' + ('result' in m || 'error' in m ? ' (it is a response)' : ''));
  }
  if ('id' in m && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number') invalid('"id" is not a string, a number or null');
  if ('params' in m && (m.params === null || typeof m.params !== 'object')) invalid('"params" is not an object or an array');
  const method = m.method;
  if (method.length === 0 || method.length > MAX_JSONRPC_NAME) invalid(`"method" must have 1 to ${MAX_JSONRPC_NAME} characters`);
  const call: JsonRpcCall = { method, notification: !('id' in m) };
  if (method === TOOLS_CALL) {
    const p = m.params as Record<string, unknown> | undefined;
    const name = p !== undefined && !Array.isArray(p) ? p.name : undefined;
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_JSONRPC_NAME) {
      invalid(`a tools/call needs "params.name", the tool, a string of 1 to ${MAX_JSONRPC_NAME} characters`);
    }
    call.tool = name;
  }
  return call;
}

/**
 * The first key some object of valid JSON `text` repeats (compared as decoded), or undefined.
 * One pass with an explicit stack, so no nesting depth can exhaust the call stack.
 */
export function repeatedKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  // In an object, the next string is a key (after "{" or ","), not a value (after ":").
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      for (; j < text.length; j++) {
        const c = text.charCodeAt(j);
        if (c === 0x5c /* \ */) { escaped = true; j++; continue; }
        if (c === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const raw = text.slice(i + 1, j);
        const key = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.has(key)) return key;
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (ch === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}

/**
 * A JSON-RPC call as a caller names it without the body (the arbiter's `request.jsonrpc`, SPEC
 * §12): `{"method", "tool"?}`, the tool required for `tools/call` and refused for any other
 * method. Naming a call the body does not hold gains nothing: the gate routes by the body it
 * reads, so a permit for another call's route is PERMIT_SCOPE_MISMATCH there.
 *
 * @throws RequestInvalidError for any other value.
 */
export function readJsonRpcClaim(v: unknown): JsonRpcCall {
  const bad = (why: string): never => { throw new RequestInvalidError(`request.jsonrpc ${why}`); };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('must be an object {"method", "tool"}');
  const { method, tool, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length > 0) bad(`has unknown members (${Object.keys(rest).slice(0, 3).join(', ')}); it is {"method", "tool"}`);
  const name = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_JSONRPC_NAME;
  if (!name(method)) bad(`"method" must be a string of 1 to ${MAX_JSONRPC_NAME} characters`);
  if (method === TOOLS_CALL ? !name(tool) : tool !== undefined && tool !== null) {
    bad(method === TOOLS_CALL ? `"tool" must be the tool's name for tools/call (1 to ${MAX_JSONRPC_NAME} characters)` : '"tool" is only for method tools/call');
  }
  return { method: method as string, notification: false, ...(method === TOOLS_CALL ? { tool: tool as string } : {}) };
}

/** The call a body holds, or undefined when it holds none (requestPermit names it to the arbiter only when it is one). */
export function jsonRpcCallIn(body: Uint8Array | string): JsonRpcCall | undefined {
  try {
    return parseJsonRpcCall(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  } catch (e) {
    if (e instanceof RequestInvalidError) return undefined;
    throw e;
  }
}
