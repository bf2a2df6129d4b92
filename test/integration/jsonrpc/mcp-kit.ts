/**
 * A real MCP server (the official SDK's McpServer over StreamableHTTPServerTransport, stateless)
 * on a loopback node:http server, and an SDK Client whose fetch goes through the gate. The
 * server records every request it got, so a test can say what reached it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { fetch as undiciFetch, ProxyAgent } from 'undici';
import { z } from 'zod';
import { startGate, workspace, type GateProcess, type GateWorkspace } from '../harness.js';

export interface McpOrigin {
  port: number;
  /** Every request the server got: HTTP method and body text. */
  seen: { method: string; body: string }[];
  /** The tools/call requests it got, by tool name. */
  calls(tool: string): number;
  /** Resolved by the test when its client saw the first progress event of `count`. */
  firstProgressSeen: () => void;
  close(): Promise<void>;
}

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

/**
 * The server's tools: read_issue, create_issue, add_comment and delete_repo answer at once;
 * `count` sends a progress notification, then waits (up to 5 s) until the client says it saw
 * it — which it can only do if the gate passed the event on before the answer ended — and
 * answers "streamed", or "buffered" when the wait timed out.
 */
export async function startMcpOrigin(): Promise<McpOrigin> {
  const seen: McpOrigin['seen'] = [];
  let release: () => void = () => undefined;
  let progressSeen = new Promise<void>((r) => { release = r; });
  const build = (): McpServer => {
    const s = new McpServer({ name: 'issues-it', version: '1.0.0' });
    s.registerTool('read_issue', { inputSchema: { id: z.number() } }, async ({ id }) => text(`issue ${id}`));
    s.registerTool('create_issue', { inputSchema: { title: z.string() } }, async ({ title }) => text(`created ${title}`));
    s.registerTool('add_comment', { inputSchema: { body: z.string() } }, async ({ body }) => text(`commented ${body}`));
    s.registerTool('delete_repo', {}, async () => text('deleted'));
    s.registerTool('count', {}, async (extra) => {
      const token = extra._meta?.progressToken;
      if (token === undefined) return text('no progress token');
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
      const waited = await Promise.race([progressSeen.then(() => 'streamed'), new Promise<string>((r) => setTimeout(() => r('buffered'), 5000))]);
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 2, total: 2 } });
      return text(waited);
    });
    return s;
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', body });
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    // Stateless: one server and transport per request, as the SDK documents it.
    const mcp = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => { void transport.close(); void mcp.close(); });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, JSON.parse(body));
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
  return {
    port, seen,
    calls: (tool) => seen.filter((s) => { try { const m = JSON.parse(s.body); return m.method === 'tools/call' && m.params?.name === tool; } catch { return false; } }).length,
    firstProgressSeen: () => { release(); progressSeen = Promise.resolve(); },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** What the gate answered to one POST the client made. */
export interface GateAnswer { status: number; reason: string | null; receipt: string | null; body: unknown }

export interface GatedClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** The gate's answers to the client's requests, in order. */
  answers: GateAnswer[];
  /** Adds an Egress-Permit to the next POSTs: minted from the exact body the client sends. */
  permitWith(mint: ((body: string) => string | Promise<string>) | undefined): void;
  close(): Promise<void>;
}

/** An SDK client for `url` whose every request goes through the gate's proxy port. */
export async function gatedClient(proxyPort: number, url: string): Promise<GatedClient> {
  const dispatcher = new ProxyAgent(`http://127.0.0.1:${proxyPort}`);
  const answers: GateAnswer[] = [];
  let mint: ((body: string) => string | Promise<string>) | undefined;
  const fetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    if (mint && typeof init?.body === 'string') headers.set('egress-permit', await mint(init.body));
    const res = await undiciFetch(input, { ...(init as object), headers, dispatcher } as Parameters<typeof undiciFetch>[1]);
    const answer: GateAnswer = { status: res.status, reason: res.headers.get('egress-reason'), receipt: res.headers.get('egress-receipt'), body: null };
    if (init?.method === 'POST') answers.push(answer);
    if (res.headers.get('content-type')?.startsWith('application/problem+json')) answer.body = await res.clone().json();
    return res as unknown as Response;
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch });
  const client = new Client({ name: 'agent-it', version: '1.0.0' });
  await client.connect(transport);
  return {
    client, transport, answers,
    permitWith: (m) => { mint = m; },
    close: async () => { await client.close(); await dispatcher.close(); },
  };
}

/** Routes for the MCP endpoint `http://api.it:<port>/mcp`: its URL, the session's routes, and a route for one tool. */
export function mcpRoutes(port: number) {
  const at = { scheme: 'http', host: 'api.it', port, path: '/mcp' };
  return {
    url: `http://api.it:${port}/mcp`,
    /** initialize, notifications, tools/list — any method but tools/call — and the GET/DELETE of the endpoint. */
    session: [
      { surface: 'mcp', action: 'session', match: { ...at, jsonrpc: { method: '*' } }, authorize: 'none' },
      { surface: 'mcp', action: 'stream', match: { ...at, method: ['GET', 'DELETE'] }, authorize: 'none' },
    ],
    /** A tools/call route: for one tool, or (name undefined) for the tools no other route names. */
    tool: (surface: string, action: string, name: string | undefined, rest: Record<string, unknown>) => ({
      surface, action, match: { ...at, jsonrpc: { method: 'tools/call', ...(name !== undefined ? { tool: name } : {}) } }, ...rest,
    }),
  };
}

export interface McpBehindGate {
  origin: McpOrigin;
  ws: GateWorkspace;
  gate: GateProcess;
  agent: GatedClient;
  /** The endpoint, http://api.it:<port>/mcp. */
  url: string;
  stop(): Promise<void>;
}

/** The MCP origin, a gate whose routes are the session's and `tools(m)`, and an SDK client connected through it. */
export async function mcpBehindGate(tools: (m: ReturnType<typeof mcpRoutes>) => object[]): Promise<McpBehindGate> {
  const origin = await startMcpOrigin();
  const m = mcpRoutes(origin.port);
  const ws = await workspace({ routes: { routes: [...m.session, ...tools(m)] } });
  const gate = await startGate(ws);
  const agent = await gatedClient(ws.listenPort, m.url);
  return {
    origin, ws, gate, agent, url: m.url,
    stop: async () => { await agent.close().catch(() => undefined); await gate.stop(); await origin.close(); },
  };
}
