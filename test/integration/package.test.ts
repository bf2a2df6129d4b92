// The package works outside its checkout (issue 16): `npm pack` makes a tarball that installs
// globally into a temporary prefix and runs from another folder, and the SDK's README example
// type-checks under strict in a project of its own (test/fixtures/sdk-strict) against the
// installed package's types. Installing fetches the dependencies from the npm registry.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cleanEnv, ROOT, tmpDir } from './harness.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('npm pack → npm i -g → egress-gate, anywhere', () => {
  let prefix: string;
  let elsewhere: string;
  let bin: string;
  let installed: string;
  let files: string[];

  before(() => {
    const out = tmpDir('eg-pack-');
    // dist/ is already built (the test runner builds first); pack it as it is.
    const p = spawnSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: ROOT, encoding: 'utf8', env: cleanEnv() });
    assert.equal(p.status, 0, p.stderr);
    const info = JSON.parse(p.stdout)[0] as { filename: string; files: { path: string }[] };
    files = info.files.map((f) => f.path);
    prefix = tmpDir('eg-prefix-');
    const tgz = path.join(out, path.basename(info.filename));
    const i = spawnSync(npm, ['i', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel', 'error', tgz], { cwd: out, encoding: 'utf8', env: cleanEnv(), timeout: 300_000 });
    assert.equal(i.status, 0, `${i.stdout}\n${i.stderr}`);
    bin = path.join(prefix, 'bin', 'egress-gate');
    installed = path.join(prefix, 'lib', 'node_modules', 'egress-gate');
    elsewhere = tmpDir('eg-elsewhere-');
  });

  const run = (args: string[]) => spawnSync(bin, args, { cwd: elsewhere, encoding: 'utf8', env: cleanEnv({ PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin` }) });

  it('the tarball holds the build, the bin, the examples, the schema and the console page, not tests or sources', () => {
    for (const f of ['bin/egress-gate.js', 'dist/cli/main.js', 'dist/sdk/index.d.ts', 'dist/sdk/gate-fetch.js', 'dist/receipts/writer-thread.js', 'policy/examples/demo.yaml', 'policy/schema/routemap.schema.json', 'web/console/index.html', 'web/console/app.js', 'web/console/tlog-verify.js', 'dist/proxy/observe/console/console-assets.js', 'package.json', 'README.md']) {
      assert.ok(files.includes(f), `${f} in the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('dist/test/') || f.endsWith('.map') || /^(cli|proxy|policy\/permits)\/.*\.ts$/.test(f)), files.join(' '));
  });

  it('--help and --version run from another folder', () => {
    const h = run(['--help']);
    assert.equal(h.status, 0, h.stderr);
    assert.match(h.stdout, /^usage: egress-gate COMMAND/);
    assert.match(h.stdout, /doctor/);
    const v = run(['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `${pkg.version}\n`);
  });

  it('check validates the shipped example route maps from another folder', () => {
    const c = run(['check', path.join(installed, 'policy', 'examples')]);
    assert.equal(c.status, 0, c.stdout + c.stderr);
  });

  it("the SDK's README example (gateFetch) type-checks under strict against the installed types", () => {
    const proj = tmpDir('eg-strict-');
    for (const f of ['tsconfig.json', 'package.json', 'agent.ts']) fs.copyFileSync(path.join(ROOT, 'test/fixtures/sdk-strict', f), path.join(proj, f));
    fs.mkdirSync(path.join(proj, 'node_modules', '@types'), { recursive: true });
    fs.symlinkSync(installed, path.join(proj, 'node_modules', 'egress-gate'));
    fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(proj, 'node_modules', '@types', 'node'));
    const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
    const r = spawnSync(tsc, ['-p', path.join(proj, 'tsconfig.json')], { cwd: proj, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // And the old README form is what strict refused: the global fetch has no `dispatcher`.
    fs.writeFileSync(path.join(proj, 'agent.ts'), "import { gateDispatcher } from 'egress-gate';\nconst dispatcher = gateDispatcher({ proxyUrl: 'http://127.0.0.1:3128', caPem: '' });\nawait fetch('https://example.com/', { dispatcher });\nexport {};\n");
    const bad = spawnSync(tsc, ['-p', path.join(proj, 'tsconfig.json')], { cwd: proj, encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout + bad.stderr, /TS2769|dispatcher/);
  });
});
