/**
 * The approval page in a real headless Chromium (Debian's package, driven by playwright-core):
 * a pending request appears with its request, surface/action, caller and reason; a click on
 * Approve approves it, and the poller (the SDK's requestPermit) receives the permit.
 * Set-up: test/kit/chromium.ts (installs chromium as the set-up step does when missing).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { launchChromium } from '../../kit/chromium.js';
import { requestPermit } from '../../../sdk/index.js';
import { GATE_ID, SUBJECT, workspace } from '../harness.js';
import { arbiterWorkspace, startArbiterProcess, type ArbiterProcess, type ArbiterWorkspace } from './arbiter-harness.js';

describe('approval page in headless Chromium', () => {
  let aws: ArbiterWorkspace;
  let arbiter: ArbiterProcess;
  let browser: BrowserContext;

  before(async () => {
    const gws = await workspace({ routes: { routes: [
      { surface: 'notes', action: 'publish', match: { scheme: 'http', host: 'api.it', port: 8080, method: 'POST', path: '/publish' }, authorize: 'permit' },
    ] } });
    aws = await arbiterWorkspace({
      dir: gws.dir, issuerKeyPath: gws.issuerKeyPath, routesDir: path.join(gws.dir, 'routes'),
      config: (c) => { c.grants = [{ subject: SUBJECT, surface: 'notes', action: 'publish', gates: [GATE_ID], approve: 'human' }]; },
    });
    arbiter = await startArbiterProcess(aws);
    browser = await launchChromium();
  });
  after(async () => { await browser?.close(); await arbiter?.stop(); });

  it('a pending request appears, a click approves it, the poller receives the permit', async () => {
    const poller = requestPermit({ arbiter: aws.url, token: aws.tokens.agent as string, gate: GATE_ID, method: 'POST', url: 'http://api.it:8080/publish', reason: 'weekly notes', signal: AbortSignal.timeout(30_000) });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const first = await page.goto(`${aws.url}/ui`);
    assert.match(first?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    await page.fill('#token', aws.tokens.alice as string);
    await page.click('#sign-in');
    let row = page.locator('tr[data-request]');
    for (let i = 0; i < 30 && (await row.count()) === 0; i++) { await page.waitForTimeout(200); await page.reload(); row = page.locator('tr[data-request]'); }
    assert.equal(await row.count(), 1);
    const text = await row.innerText();
    for (const s of ['POST http://api.it:8080/publish', 'notes / publish', SUBJECT, 'weekly notes']) assert.ok(text.includes(s), `${s} in ${text}`);
    await page.click('button[data-action="approve"]');
    assert.match(await page.locator('[role=status]').innerText(), /approved/);
    const got = await poller;
    assert.deepEqual(JSON.parse(Buffer.from(got.permit.split('.')[1] as string, 'base64url').toString()).apr, ['alice']);
    assert.deepEqual(errors, [], 'no CSP or script errors on the page');
  });
});
