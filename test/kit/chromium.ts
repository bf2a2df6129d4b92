/**
 * The browser tests' Chromium: Debian's package at /usr/bin/chromium, installed when missing
 * by the set-up step's own logic (test/setup/ensure-tools.mjs: as root with apt-get, else it
 * stops with the one command to run), driven by playwright-core with a fresh profile.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
// @ts-expect-error -- plain .mjs script, no declarations
import { ensure } from '../setup/ensure-tools.mjs';
import { tmpDir } from './keys.js';

export const CHROMIUM = '/usr/bin/chromium';

export function ensureChromium(): void {
  if (fs.existsSync(CHROMIUM)) return;
  if ((ensure as (cmds: string[]) => number)(['chromium']) !== 0 || !fs.existsSync(CHROMIUM)) {
    throw new Error(`this test needs Debian's chromium at ${CHROMIUM}: run \`sudo apt-get update && sudo apt-get install -y chromium\``);
  }
}

/** A headless Chromium with a fresh user-data-dir; close() also removes the profile. */
export async function launchChromium(opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  ensureChromium();
  const profile = tmpDir('eg-chromium-'); // removed at close, or at the latest when the test process exits
  // playwright takes the user-data-dir as launchPersistentContext's first argument.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
  });
  // Chromium may still be writing its caches when 'close' fires: retried, and never an error.
  context.once('close', () => { try { fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }); } catch { /* a temp dir left behind */ } });
  return context;
}
