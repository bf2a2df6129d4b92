#!/usr/bin/env node
// Runs the test suite with node:test. Node 20's --test does not expand globs, so the
// files are found here. `node test/run.mjs [unit|integration|deploy|PATH_SUBSTRING…]`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'fixtures' && e.name !== 'bench' && !e.name.startsWith('.')) out.push(...walk(p)); }
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

// Integration tests run the built bin (dist/): build first, so a run after a source change
// can never pass on stale output. EGRESS_GATE_TEST_NO_BUILD=1 skips it (npm test has just built).
if (process.env.EGRESS_GATE_TEST_NO_BUILD !== '1') {
  const b = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build'], { stdio: 'inherit', cwd: path.dirname(root) });
  if (b.status !== 0) {
    console.error('test/run.mjs: the build failed; no tests were run against stale dist/');
    process.exit(b.status ?? 1);
  }
}

const files = walk(root).sort().filter((f) => filters.length === 0 || filters.some((s) => path.relative(root, f).includes(s)));
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(2);
}
const r = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=120000', ...files,
], {
  stdio: 'inherit',
  cwd: path.dirname(root),
  // tsx 4.23 transforms synchronously; esbuild 0.28 serves those calls from a worker thread
  // whose Atomics.wait can wait forever, intermittently (a test file hung at load in CI until
  // its 120 s timeout; the same was reported upstream). "0" selects esbuild's per-call service.
  // Inherited by every process a test spawns with --import tsx.
  env: { ...process.env, ESBUILD_WORKER_THREADS: '0' },
});
process.exit(r.status ?? 1);
