// The set-up step npm test runs first: what it decides from what is missing. Tested as a pure
// function (no package is uninstalled), plus one run of the script on this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error -- plain .mjs script, no declarations
import { plan, has, TOOLS, KUBECTL_COMMAND } from '../../setup/ensure-tools.mjs';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../setup/ensure-tools.mjs');
const aptAll = () => true;

test('nothing missing: nothing to do', () => {
  assert.deepEqual(plan({ missing: [], isRoot: false, hasApt: true, aptHas: aptAll }), { action: 'none' });
});

test('a tool missing and not root: stops with the one sudo apt-get command', () => {
  const p = plan({ missing: ['redis-server', 'iptables'], isRoot: false, hasApt: true, aptHas: aptAll });
  assert.equal(p.action, 'stop');
  assert.equal(p.command, 'sudo apt-get update && sudo apt-get install -y --no-install-recommends iptables redis-server');
  assert.match(p.message, /redis-server \(replay: redis:\/\/ tests\)/);
  assert.match(p.message, /iptables \(the lockdown test\)/);
  assert.ok(p.message.includes(p.command));
});

test('root with apt-get: the apt-get commands it would run, packages deduplicated', () => {
  const p = plan({ missing: ['prlimit', 'setpriv', 'ip', 'curl'], isRoot: true, hasApt: true, aptHas: aptAll });
  assert.deepEqual(p, {
    action: 'install',
    commands: [
      ['apt-get', 'update', '-qq'],
      ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'curl', 'iproute2', 'util-linux'],
    ],
  });
});

test('root without apt-get: stops with the command (no sudo)', () => {
  const p = plan({ missing: ['curl'], isRoot: true, hasApt: false, aptHas: aptAll });
  assert.equal(p.action, 'stop');
  assert.equal(p.command, 'apt-get update && apt-get install -y --no-install-recommends curl');
});

test('kubectl with no apt source: the download command, even as root', () => {
  const p = plan({ missing: ['kubectl', 'strace'], isRoot: true, hasApt: true, aptHas: (pkg: string) => pkg !== 'kubectl' });
  assert.equal(p.action, 'stop');
  assert.equal(p.command, `apt-get update && apt-get install -y --no-install-recommends strace && ${KUBECTL_COMMAND}`);
  const q = plan({ missing: ['kubectl'], isRoot: true, hasApt: true, aptHas: aptAll });
  assert.deepEqual(q.commands.at(-1).slice(-1), ['kubectl']);
});

test('every tool has a package, and has() finds tools in sbin even off PATH', () => {
  for (const t of TOOLS) assert.ok(t.pkg && t.cmd && t.for);
  assert.equal(has('sh', ''), true);
  assert.equal(has('no-such-tool-egress-gate', ''), false);
});

test('on this machine the script exits 0 (everything the suite needs is here)', () => {
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
