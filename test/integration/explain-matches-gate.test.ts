/**
 * `egress-gate explain` and the running gate give the same decision, reason and detail for
 * the same request, over the route-map fixtures: both run the one decision chain
 * (proxy/pipeline/decision-chain.ts). A table of requests is sent through a real gate and
 * explained offline; the gate's side is read from its decision log line for the receipt id
 * it answered with.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { cli, permitClaims, signPermit, startGate, tmpDir, viaProxy, workspace, type GateProcess, type GateWorkspace } from './harness.js';

const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'policy', 'routes');
const run = promisify(execFile);
const sha = (b: string) => crypto.createHash('sha256').update(b).digest('base64url');

interface Row {
  name: string; method: string; url: string; headers?: Record<string, string>; body?: string; permit?: (ws: GateWorkspace) => string;
  /** The JSON-RPC call both must name (routes chose by the body). */
  call?: { method: string; tool: string | null };
}

interface Seen { decision: string; reason: string; detail: string; jsonrpc?: unknown }

/** The gate's decision log line for `receipt` (the log is written asynchronously: waits for it). */
async function gateDecision(gate: GateProcess, receipt: string): Promise<Seen> {
  for (let tries = 0; tries < 50; tries++) {
    for (const line of gate.output().split('\n')) {
      if (!line.includes('"egress.decision"')) continue;
      const j = JSON.parse(line);
      if (j.receipt === receipt) return { decision: j.decision, reason: j.reason, detail: j.detail, jsonrpc: j.jsonrpc ?? null };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no decision log line for receipt ${receipt}`);
}

async function throughGate(ws: GateWorkspace, gate: GateProcess, row: Row, permit: string | undefined): Promise<Seen> {
  const headers = { ...(row.headers ?? {}), ...(permit ? { 'Egress-Permit': permit } : {}) };
  let receipt: string | undefined;
  if (row.url.startsWith('https://')) {
    const args = ['-s', '-o', '/dev/null', '-D', '-', '--cacert', ws.caCert, '-x', `http://127.0.0.1:${ws.listenPort}`, '-X', row.method];
    for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
    if (row.body !== undefined) args.push('--data-binary', row.body);
    const { stdout } = await run('curl', [...args, row.url]);
    receipt = /^egress-receipt: (\S+)/mi.exec(stdout)?.[1];
  } else {
    const a = await viaProxy(ws.listenPort, row.url, { method: row.method, headers, body: row.body });
    receipt = a.headers['egress-receipt'] as string | undefined;
  }
  assert.ok(receipt, `${row.name}: the gate answered with a receipt id`);
  return gateDecision(gate, receipt);
}

function explained(ws: GateWorkspace, row: Row, permit: string | undefined): Seen {
  const args = ['explain', '--config', ws.configPath];
  for (const [k, v] of Object.entries(row.headers ?? {})) args.push('--header', `${k}: ${v}`);
  if (permit) args.push('--permit', permit);
  if (row.body !== undefined) {
    const f = path.join(tmpDir('eg-explain-body-'), 'body');
    fs.writeFileSync(f, row.body);
    args.push('--body', f);
  }
  const r = cli([...args, row.method, row.url]);
  assert.equal(r.code, 0, `${row.name}: explain exits 0 (${r.stderr})`);
  const j = JSON.parse(r.stdout);
  return { decision: j.decision, reason: j.reason, detail: j.detail, jsonrpc: j.jsonrpc && { method: j.jsonrpc.method, tool: j.jsonrpc.tool } };
}

const notesBody = '{"n":1}';
const rpc = (method: string, params?: object) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) });
const createBody = rpc('tools/call', { name: 'create_issue', arguments: { title: 't' } });
const TABLES: { fixture: string; maxBoundBody?: string; rows: Row[] }[] = [
  {
    fixture: 'valid.yaml',
    rows: [
      { name: 'open route', method: 'GET', url: 'http://open.test:8080/open/a' },
      { name: 'open route on another port', method: 'GET', url: 'http://open.test/open/a' },
      { name: 'permit route without a permit', method: 'GET', url: 'http://api.test/v1/items/7' },
      { name: 'a malformed permit', method: 'GET', url: 'http://api.test/v1/items/7', headers: { 'Egress-Permit': 'not-a-jws' } },
      { name: 'an encoded slash', method: 'GET', url: 'http://api.test/v1/items/a%2Fb' },
      { name: 'report-mode route over https, no permit', method: 'POST', url: 'https://api.test:8443/v1/charges', body: 'x' },
    ],
  },
  {
    fixture: 'explain-table.yaml',
    rows: [
      { name: 'a body over max_bound_body on an authorize: none route', method: 'POST', url: 'http://open.test/open/x', body: '01234567890123456789' },
      { name: 'deny route', method: 'GET', url: 'http://open.test/secrets/k' },
      {
        name: 'body-bound permit', method: 'POST', url: 'http://api.test/notes', body: notesBody,
        permit: (ws) => signPermit(ws.issuer, permitClaims({ surface: 'notes', action: 'create', htm: 'POST', htu: 'http://api.test/notes', extra: { req: { htm: 'POST', htu: 'http://api.test/notes', bdh: sha(notesBody) } } })),
      },
      { name: 'body-bound route, body too large', method: 'POST', url: 'http://api.test/notes', body: '01234567890123456789' },
      { name: 'online route, no decider configured', method: 'POST', url: 'http://api.test/deploy' },
      { name: 'IP literal in a private range', method: 'GET', url: 'http://10.1.2.3/x' },
      { name: 'an exception', method: 'POST', url: 'http://api.test/v1/refunds' },
      { name: 'no route', method: 'GET', url: 'http://nowhere.test/y' },
    ],
  },
  {
    fixture: 'explain-jsonrpc.yaml',
    maxBoundBody: '256',
    rows: [
      { name: 'a session method', method: 'POST', url: 'http://api.test/mcp', body: rpc('tools/list'), call: { method: 'tools/list', tool: null } },
      { name: 'an open tool', method: 'POST', url: 'http://api.test/mcp', body: rpc('tools/call', { name: 'read_issue', arguments: { id: 1 } }) },
      { name: 'an unlisted tool', method: 'POST', url: 'http://api.test/mcp', body: rpc('tools/call', { name: 'delete_repo' }), call: { method: 'tools/call', tool: 'delete_repo' } },
      { name: 'a permit tool without a permit', method: 'POST', url: 'http://api.test/mcp', body: createBody },
      {
        name: 'a permit tool with its body-bound permit', method: 'POST', url: 'http://api.test/mcp', body: createBody, call: { method: 'tools/call', tool: 'create_issue' },
        permit: (ws) => signPermit(ws.issuer, permitClaims({ surface: 'issues', action: 'create', htm: 'POST', htu: 'http://api.test/mcp', extra: { req: { htm: 'POST', htu: 'http://api.test/mcp', bdh: sha(createBody) } } })),
      },
      { name: 'an unlisted tool over HTTPS (intercepted)', method: 'POST', url: 'https://api.test/mcp', body: rpc('tools/call', { name: 'delete_repo' }), call: { method: 'tools/call', tool: 'delete_repo' } },
      { name: 'a batch', method: 'POST', url: 'http://api.test/mcp', body: `[${createBody}]` },
      { name: 'a response POSTed by the client', method: 'POST', url: 'http://api.test/mcp', body: '{"jsonrpc":"2.0","id":1,"result":{}}' },
      { name: 'a body past max_bound_body', method: 'POST', url: 'http://api.test/mcp', body: rpc('tools/call', { name: 'x'.repeat(300) }) },
    ],
  },
];

for (const table of TABLES) {
  describe(`explain gives the gate's decision, reason and detail: ${table.fixture}`, () => {
    let ws: GateWorkspace;
    let gate: GateProcess;
    before(async () => {
      ws = await workspace({
        routes: parse(fs.readFileSync(path.join(FIXTURES, table.fixture), 'utf8')),
        config: (c) => {
          c.network = { block_private: true, allow_cidrs: ['127.0.0.1/32'], hosts: { 'open.test': '127.0.0.1', 'api.test': '127.0.0.1', 'nowhere.test': '127.0.0.1' } };
          c.limits.max_bound_body = table.maxBoundBody ?? '16';
        },
      });
      gate = await startGate(ws);
    });
    after(async () => { await gate?.stop(); });

    for (const row of table.rows) {
      it(row.name, async () => {
        const permit = row.permit?.(ws);
        const expected = explained(ws, row, permit);
        const seen = await throughGate(ws, gate, row, permit);
        assert.deepEqual(seen, expected);
        if (row.call) assert.deepEqual(expected.jsonrpc, row.call);
      });
    }
  });
}
