/**
 * MCP tool calls in the admin console, in headless Chromium: two tools of one `POST /mcp`
 * endpoint, routed by `match.jsonrpc`, show in the live list with their JSON-RPC method and
 * tool (a permitted and a denied one, each with its own surface/action); a decision's page
 * names the call; the explain form reads the call from the body typed into it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../kit/chromium.js';
import { startGate, startOrigin, viaProxy, workspace, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';

const call = (id: number, tool: string) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: {} } });

describe('admin console: MCP tool calls', () => {
  let ws: GateWorkspace;
  let origin: Origin;
  let gate: GateProcess;
  let browser: BrowserContext;
  let page: Page;
  const errors: string[] = [];
  const mcp = () => `http://mcp.it:${origin.port}/mcp`;

  before(async () => {
    origin = await startOrigin();
    const m = (tool: string) => ({ scheme: 'http', host: 'mcp.it', port: origin.port, method: 'POST', path: '/mcp', jsonrpc: { method: 'tools/call', tool } });
    ws = await workspace({
      routes: {
        routes: [
          { surface: 'issues', action: 'create', match: m('create_issue'), authorize: 'none' },
          { surface: 'repos', action: 'delete', match: m('delete_repository'), authorize: 'deny' },
        ],
      },
      config: (c) => { c.network.hosts['mcp.it'] = '127.0.0.1'; },
    });
    gate = await startGate(ws);
    browser = await launchChromium({ viewport: { width: 1280, height: 860 } });
    page = await browser.newPage();
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${ws.adminPort}/`);
    await page.locator('#live-status').filter({ hasText: /^live/ }).waitFor({ timeout: 5000 });
  });
  after(async () => { await browser?.close(); await gate?.stop(); await origin?.close(); });

  it('the live list names each call\'s method and tool, with its own surface/action and decision; its page names the call', async () => {
    const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const ok = await viaProxy(ws.listenPort, mcp(), { method: 'POST', headers: json, body: call(1, 'create_issue') });
    const no = await viaProxy(ws.listenPort, mcp(), { method: 'POST', headers: json, body: call(2, 'delete_repository') });
    assert.equal(ok.status, 200);
    assert.equal(no.status, 403);
    assert.equal(no.headers['egress-reason'], 'ROUTE_DENY');
    const okRow = page.locator(`tr[data-receipt="${ok.headers['egress-receipt']}"]`);
    const noRow = page.locator(`tr[data-receipt="${no.headers['egress-receipt']}"]`);
    await okRow.waitFor({ timeout: 2000 });
    await noRow.waitFor({ timeout: 2000 });
    const okText = await okRow.innerText();
    const noText = await noRow.innerText();
    for (const s of ['tools/call create_issue', 'issues / create', 'PERMIT']) assert.ok(okText.includes(s), `${s} in ${okText}`);
    for (const s of ['tools/call delete_repository', 'repos / delete', 'ROUTE_DENY']) assert.ok(noText.includes(s), `${s} in ${noText}`);
    await noRow.click();
    await page.locator('#proof-status[data-verified="true"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#decision-summary').innerText(), /JSON-RPC call\s+tools\/call delete_repository/);
  });

  it('a page opened later shows the call from the log', async () => {
    const later = await browser.newPage();
    await later.goto(`http://127.0.0.1:${ws.adminPort}/`);
    const row = later.locator('tr', { hasText: 'tools/call delete_repository' });
    await row.first().waitFor({ timeout: 5000 });
    assert.match(await row.first().innerText(), /repos \/ delete/);
    await later.close();
  });

  it('explain reads the call from the body typed into it', async () => {
    await page.goto(`http://127.0.0.1:${ws.adminPort}/#explain`);
    await page.fill('#explain-method', 'POST');
    await page.fill('#explain-url', mcp());
    await page.fill('#explain-headers', 'Content-Type: application/json');
    await page.fill('#explain-body', call(3, 'delete_repository'));
    await page.click('#explain-run');
    await page.locator('#explain-result:not([hidden])').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#explain-decision').innerText(), /DENY ROUTE_DENY/);
    assert.match(await page.locator('#explain-request').innerText(), /JSON-RPC call: tools\/call delete_repository/);
    assert.match(await page.locator('#explain-route').innerText(), /delete_repository/);
    assert.deepEqual(errors, []);
  });
});
