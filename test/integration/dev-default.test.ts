// The development default (`egress-gate start` with no config): its config file is written only
// when missing, so an edit survives a restart (issue 16), and the banner says which happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, cleanEnv, freePort, tmpDir } from './harness.js';

/** Starts the gate in cwd; resolves with its stderr once the banner is out, or it exited. */
function runStart(cwd: string, untilBanner: boolean) {
  const child = spawn(process.execPath, [BIN, 'start'], { cwd, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (stderr.includes('Try it')) { clearInterval(t); resolve(); }
      else if (!untilBanner && fs.existsSync(path.join(cwd, '.egress-gate', 'egress-gate.yaml'))) { clearInterval(t); resolve(); }
    }, 50);
    void exited.then(() => { clearInterval(t); resolve(); });
  });
  return {
    ready: ready.then(() => stderr),
    async stop() { if (child.exitCode === null) child.kill('SIGTERM'); return exited; },
  };
}

test('an edited development config survives a restart; the banner says it was kept', async () => {
  const cwd = tmpDir('dev-default-');
  const configPath = path.join(cwd, '.egress-gate', 'egress-gate.yaml');
  // First start writes the file (whether or not 127.0.0.1:3128 is free on this machine).
  const first = runStart(cwd, false);
  await first.ready;
  await first.stop();
  const written = fs.readFileSync(configPath, 'utf8');
  assert.match(written, /because this file was missing/);
  assert.match(written, /later starts keep it/);

  // Edit: other ports (so the restart proves the edit is what it runs), another gate id, a comment.
  const [listen, admin] = [await freePort(), await freePort()];
  const edited = `# my edit: keep me\n${written
    .replace('listen: 127.0.0.1:3128', `listen: 127.0.0.1:${listen}`)
    .replace('admin: 127.0.0.1:3129', `admin: 127.0.0.1:${admin}`)
    .replace('id: dev-gate', 'id: edited-gate')}`;
  fs.writeFileSync(configPath, edited);

  const second = runStart(cwd, true);
  try {
    const banner = await second.ready;
    assert.match(banner, /kept as it is \(written only when missing/, banner);
    assert.match(banner, new RegExp(`proxy  http://127\\.0\\.0\\.1:${listen}`));
    const health = await fetch(`http://127.0.0.1:${admin}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(fs.readFileSync(configPath, 'utf8'), edited, 'the edited file is untouched');
  } finally {
    assert.equal(await second.stop(), 0);
  }
  assert.equal(fs.readFileSync(configPath, 'utf8'), edited, 'still untouched after stop');
});
