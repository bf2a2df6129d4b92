/**
 * The admin console in a real headless Chromium (Debian's package, driven by playwright-core;
 * test/kit/chromium.ts): a request through the gate appears in the live list within a second
 * with its reason (never its query); filters hide it; its page shows the inclusion proof
 * verified in the browser, and a tampered proof (intercepted) not verified; the explain form
 * answers what `egress-gate explain` prints for a table of requests; the routes view marks a
 * report-mode route and an expired exception; health draws its charts. Each view's screenshot
 * is taken, one at phone width; with EGRESS_GATE_SCREENSHOTS=1 they are written to
 * docs/console/ (the README shows them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../kit/chromium.js';
import { cli, permitClaims, ROOT, signPermit, startGate, tmpDir, viaProxy, type GateProcess, type GateWorkspace, type Origin } from '../harness.js';
import { consoleWorkspace } from './console-kit.js';

// The README's screenshots are rewritten only when asked (EGRESS_GATE_SCREENSHOTS=1), so a test
// run leaves the checkout clean; otherwise they go to a temp dir, still taken (and so drawn).
const SHOTS = process.env.EGRESS_GATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'console') : tmpDir('eg-shots-');
const SECRET_QUERY = 'api_key=QUERY-SECRET-7788';

describe('admin console in headless Chromium', () => {
  let ws: GateWorkspace;
  let origin: Origin;
  let gate: GateProcess;
  let browser: BrowserContext;
  let page: Page;
  let base: string;
  const errors: string[] = [];
  let denied: string;

  before(async () => {
    ({ ws, origin } = await consoleWorkspace());
    gate = await startGate(ws);
    base = `http://127.0.0.1:${ws.adminPort}`;
    browser = await launchChromium({ viewport: { width: 1280, height: 860 } });
    page = await browser.newPage();
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => { await browser?.close(); await gate?.stop(); await origin?.close(); });

  it('serves the page under a strict CSP and without errors', async () => {
    const first = await page.goto(`${base}/`);
    const csp = first?.headers()['content-security-policy'] ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'"]) assert.ok(csp.includes(d), `${d} in ${csp}`);
    await page.locator('#live-status').filter({ hasText: /^live/ }).waitFor({ timeout: 5000 });
  });

  it('a request appears in the live list within a second, with its reason and without its query', async () => {
    const ok = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/docs/guide?${SECRET_QUERY}`);
    assert.equal(ok.status, 200);
    const sent = Date.now();
    const a = await viaProxy(ws.listenPort, `http://open.it:${origin.port}/secrets/key?${SECRET_QUERY}`);
    assert.equal(a.status, 403);
    denied = a.headers['egress-receipt'] as string;
    const row = page.locator(`tr[data-receipt="${denied}"]`);
    await row.waitFor({ timeout: 1000 });
    assert.ok(Date.now() - sent < 1000, 'shown within a second');
    const text = await row.innerText();
    for (const s of ['ROUTE_DENY', 'DENY', `open.it:${origin.port}/secrets/key`, 'docs / secrets.read']) assert.ok(text.includes(s), `${s} in ${text}`);
    const permitted = page.locator(`tr[data-receipt="${ok.headers['egress-receipt']}"]`);
    await permitted.filter({ hasText: '200' }).waitFor({ timeout: 2000 }); // its outcome arrived too
    assert.ok(!(await page.content()).includes('QUERY-SECRET'), 'the page never shows a query');
    await page.screenshot({ path: path.join(SHOTS, 'live.png') });
  });

  it('filters hide it, and clearing them shows it again', async () => {
    const row = page.locator(`tr[data-receipt="${denied}"]`);
    await page.selectOption('#f-decision', 'PERMIT');
    assert.equal(await row.count(), 0);
    await page.selectOption('#f-decision', '');
    await page.fill('#f-reason', 'NO_PERMIT');
    assert.equal(await row.count(), 0);
    await page.fill('#f-reason', '');
    await page.check('#f-report');
    assert.equal(await row.count(), 0, 'report mode only hides an enforced decision');
    await page.uncheck('#f-report');
    await page.fill('#f-host', 'elsewhere');
    assert.equal(await row.count(), 0);
    await page.fill('#f-host', 'open.it');
    assert.equal(await row.count(), 1);
  });

  it('a page opened later shows the earlier decisions from the log, and fits a phone', async () => {
    const phone = await browser.newPage();
    phone.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${base}/`);
    const row = phone.locator(`tr[data-receipt="${denied}"]`);
    await row.waitFor({ timeout: 5000 });
    assert.match(await row.innerText(), /ROUTE_DENY/);
    await phone.click('#older');
    await phone.waitForTimeout(300);
    assert.equal(await phone.locator(`tr[data-receipt="${denied}"]`).count(), 1, 'older pages do not repeat a row');
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling of the page');
    await phone.screenshot({ path: path.join(SHOTS, 'live-phone.png') });
    await phone.close();
  });

  it('opening it shows its entries and the inclusion proof verified in the browser', async () => {
    await page.click(`tr[data-receipt="${denied}"]`);
    const status = page.locator('#proof-status');
    await page.locator('#proof-status[data-verified="true"]').waitFor({ timeout: 5000 });
    assert.match(await status.innerText(), /included in the log at size \d+, checkpoint signed by egress-gate\/gate-it/);
    const route = await page.locator('#decision-route').innerText();
    assert.ok(route.includes(`${path.join(ws.dir, 'routes', 'routes.yaml')}:`), route);
    await page.screenshot({ path: path.join(SHOTS, 'decision.png'), fullPage: true });
  });

  it('a tampered proof (intercepted) shows as not verified: entry bytes, inclusion path, signature, checkpoint', async () => {
    const b64edit = (b64: string, edit: (s: string) => string) => Buffer.from(edit(Buffer.from(b64, 'base64').toString('utf8'))).toString('base64');
    const flipHash = (h: string) => { const b = Buffer.from(h, 'base64'); b[0] = (b[0] as number) ^ 1; return b.toString('base64'); };
    const forgeries: [string, (proof: string) => string][] = [
      // The entry's bytes say something else (a field the page does not compare): the leaf no longer hashes to the root.
      ['entry', (t) => t.replace(/^extra (.*)$/m, (_, b: string) => `extra ${b64edit(b, (j) => j.replace('"subject":"agent:it"', '"subject":"agent:xx"'))}`)],
      // One hash of the inclusion path changed.
      ['path', (t) => t.replace(/^(index \d+\n)([A-Za-z0-9+/=]{44})$/m, (_, i: string, h: string) => `${i}${flipHash(h)}`)],
      // The checkpoint's signature (after its 4-byte key id) altered: the tree is right, the signature is not.
      ['signature', (t) => t.replace(/^(\u2014 egress-gate\/gate-it )(\S+)$/m, (_, p: string, sig: string) => { const b = Buffer.from(sig, 'base64'); b[10] = (b[10] as number) ^ 1; return `${p}${b.toString('base64')}`; })],
      // The checkpoint claims another tree size under the same signature.
      ['checkpoint', (t) => t.replace(/\n\n(egress-gate\/gate-it)\n(\d+)\n/, (_, o: string, n: string) => `\n\n${o}\n${Number(n) + 1}\n`)],
    ];
    for (const [what, forge] of forgeries) {
      await page.route('**/receipts/proof?*', async (route) => {
        const res = await route.fetch();
        const text = await res.text();
        const forged = forge(text);
        assert.notEqual(forged, text, `${what}: the forgery changed the proof`);
        await route.fulfill({ response: res, body: forged });
      });
      await page.reload();
      await page.locator('#proof-status[data-verified="false"]').waitFor({ timeout: 5000 });
      assert.match(await page.locator('#proof-status').innerText(), /NOT verified/, what);
      await page.unroute('**/receipts/proof?*');
    }
    await page.reload();
    await page.locator('#proof-status[data-verified="true"]').waitFor({ timeout: 5000 });
  });

  it('the explain form answers what `egress-gate explain` prints, for a table of requests', async () => {
    const notesBody = '{"n":1}';
    const sha = (b: string) => crypto.createHash('sha256').update(b).digest('base64url');
    const rows: { method: string; url: string; headers?: string[]; body?: string; permit?: string }[] = [
      { method: 'GET', url: `http://open.it:${origin.port}/docs/a?x=1` },
      { method: 'GET', url: `http://open.it:${origin.port}/secrets/k` },
      { method: 'GET', url: 'http://nowhere.it/y' },
      { method: 'POST', url: `http://api.it:${origin.port}/v1/charges`, body: 'x' },
      { method: 'POST', url: 'https://api.it:8443/v1/refunds', headers: ['X-Trace: 1'] },
      { method: 'POST', url: `http://api.it:${origin.port}/notes`, body: notesBody, permit: signPermit(ws.issuer, permitClaims({ surface: 'notes', action: 'create', htm: 'POST', htu: `http://api.it:${origin.port}/notes`, extra: { req: { htm: 'POST', htu: `http://api.it:${origin.port}/notes`, bdh: sha(notesBody) } } })) },
      { method: 'POST', url: `http://api.it:${origin.port}/notes`, body: notesBody, permit: 'not-a-jws' },
      { method: 'GET', url: 'http://10.1.2.3/x' },
    ];
    await page.goto(`${base}/#explain`);
    for (const row of rows) {
      const args = ['explain', '--config', ws.configPath];
      for (const h of row.headers ?? []) args.push('--header', h);
      if (row.permit) args.push('--permit', row.permit);
      if (row.body !== undefined) {
        const f = path.join(tmpDir('eg-console-body-'), 'body');
        fs.writeFileSync(f, row.body);
        args.push('--body', f);
      }
      const c = cli([...args, row.method, row.url]);
      assert.equal(c.code, 0, c.stderr);
      await page.fill('#explain-method', row.method);
      await page.fill('#explain-url', row.url);
      await page.fill('#explain-headers', (row.headers ?? []).join('\n'));
      await page.fill('#explain-body', row.body ?? '');
      await page.fill('#explain-permit', row.permit ?? '');
      await page.evaluate(() => { document.getElementById('explain-json')!.textContent = ''; });
      await page.click('#explain-run');
      await page.waitForFunction(() => (document.getElementById('explain-json')?.textContent ?? '') !== '');
      const shown = JSON.parse(await page.locator('#explain-json').textContent() as string);
      assert.deepEqual(shown, JSON.parse(c.stdout), `${row.method} ${row.url}`);
    }
    await page.fill('#explain-url', `http://open.it:${origin.port}/secrets/k`);
    await page.fill('#explain-method', 'GET');
    await page.fill('#explain-body', '');
    await page.fill('#explain-permit', '');
    await page.click('#explain-run');
    await page.locator('#explain-decision').filter({ hasText: 'ROUTE_DENY' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'explain.png'), fullPage: true });
  });

  it('the routes view lists the report-mode route and the expired exception as such', async () => {
    await page.goto(`${base}/#routes`);
    const report = page.locator('tr[data-route="payments/charge.create"]');
    await report.waitFor();
    assert.equal(await report.getAttribute('data-mode'), 'report');
    assert.match(await report.innerText(), /report/);
    assert.equal(await page.locator('tr[data-route="docs/read"]').getAttribute('data-mode'), 'enforce');
    const old = page.locator('tr[data-exception="EXC-OLD"]');
    assert.equal(await old.getAttribute('data-expired'), 'true');
    assert.match(await old.innerText(), /2020-01-01T00:00:00\.000Z\s*expired/);
    assert.match(await old.innerText(), /alice@sec, bob@sec/);
    assert.match(await page.locator('tr[data-exception="EXC-NOW"]').innerText(), /active/);
    assert.match(await page.locator('#routes-policy').innerText(), /policy version/);
    assert.equal(await page.locator('#routes-refused').isVisible(), false);
    // A broken edit is refused; the last good version serves and the view names the refusal.
    const bad = path.join(ws.dir, 'routes', 'broken.yaml');
    fs.writeFileSync(bad, 'routes:\n  - surface: docs\n    action: oops\n    authorize: sometimes\n');
    for (let i = 0; i < 50; i++) {
      await page.reload();
      await page.locator('tr[data-route="docs/read"]').waitFor();
      if (await page.locator('#routes-refused').isVisible()) break;
      await page.waitForTimeout(200);
    }
    const refused = await page.locator('#routes-refused').innerText();
    assert.match(refused, /Last reload refused at .*broken\.yaml:\d+:\d+/);
    assert.equal(await page.locator('tr[data-route="payments/charge.create"]').getAttribute('data-mode'), 'report', 'the last good version still listed');
    await page.screenshot({ path: path.join(SHOTS, 'routes.png'), fullPage: true });
    fs.rmSync(bad);
  });

  it('health shows readiness, the newest checkpoint and the charts from /metrics', async () => {
    await page.goto(`${base}/#health`);
    await page.locator('#chart-reasons text[data-reason="ROUTE_DENY"]').waitFor({ timeout: 5000 });
    assert.match(await page.locator('#health-ready').innerText(), /ready\s+yes/);
    assert.match(await page.locator('#health-checkpoint').innerText(), /^egress-gate\/gate-it\n\d+\n/);
    // A few samples for the line charts, with commits between them.
    for (let i = 0; i < 6; i++) {
      await viaProxy(ws.listenPort, `http://open.it:${origin.port}/docs/page-${i}`);
      await page.waitForTimeout(800);
    }
    assert.equal(await page.locator('#chart-commit polyline').count(), 1);
    assert.equal(await page.locator('#chart-fsync polyline').count(), 1);
    await page.screenshot({ path: path.join(SHOTS, 'health.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no CSP or script errors on the page');
  });
});
