// cli/main.ts: command groups answer --help with their subcommands; --version is the package's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = (...args: string[]) => {
  const env = { ...process.env };
  delete env.npm_package_version;
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/main.ts'), ...args], { cwd: root, encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

test('receipts --help lists the receipts subcommands (exit 0); so does every group', () => {
  const r = cli('receipts', '--help');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^usage: egress-gate receipts SUBCOMMAND/);
  assert.match(r.stdout, /receipts verify +\S/);
  assert.match(r.stdout, /receipts show +\S/);
  assert.doesNotMatch(r.stdout + r.stderr, /unknown command/);
  for (const [g, sub] of [['permit', 'permit issue'], ['ca', 'ca bundle'], ['keys', 'keys generate']]) {
    const x = cli(g!, '--help');
    assert.equal(x.code, 0, g);
    assert.ok(x.stdout.includes(sub!), `${g} --help lists ${sub}`);
  }
});

test('a group without or with an unknown subcommand: the list on stderr, exit 2', () => {
  const bare = cli('receipts');
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /receipts verify/);
  const bad = cli('receipts', 'frobnicate');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "receipts frobnicate"/);
  assert.match(bad.stderr, /receipts show/);
});

test('--version prints the package version, outside npm (no npm_package_version)', () => {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const r = cli('--version');
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `${version}\n`);
});
