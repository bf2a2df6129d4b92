import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const cli = path.join(repo, 'cli/main.ts');
// Resolved here, since the child runs in a temporary cwd where `--import tsx` would not resolve.
const tsx = import.meta.resolve('tsx');
const root = mkdtempSync(path.join(tmpdir(), 'eg-check-'));
after(() => rmSync(root, { recursive: true, force: true }));

function run(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', tsx, cli, 'check', ...args], { cwd, env: { ...process.env, NODE_OPTIONS: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function workspace(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

const CONFIG = 'gate:\n  id: gate-1\npolicy:\n  routes: [./routes/]\n';
const GOOD = 'routes:\n  - surface: public\n    action: read\n    match: {host: open.test, path: /open/**}\n    authorize: none\n';
const BAD = ['routes:', '  - surface: payments', '    action: charge.create', '    match:', '      host: api.test', '      method: POST', '      path: /v1/charges', '    authorize: sometimes', ''].join('\n');

describe('egress-gate check', () => {
  it('exits 0 for a valid config and route maps', async () => {
    const dir = workspace('valid', { 'egress-gate.yaml': CONFIG, 'routes/good.yaml': GOOD });
    const r = await run(['--config', path.join(dir, 'egress-gate.yaml')], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: .*1 routes/m);
  });

  it('finds ./egress-gate.yaml by itself', async () => {
    const dir = workspace('implicit', { 'egress-gate.yaml': CONFIG, 'routes/bad-routes.yaml': BAD });
    const r = await run([], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /bad-routes\.yaml:8:16: /);
  });

  it('exits 1 with file:line:col for an invalid route map (conformance check.invalid-location)', async () => {
    const dir = workspace('invalid', { 'egress-gate.yaml': CONFIG, 'routes/bad-routes.yaml': BAD, 'routes/good.yaml': GOOD });
    const r = await run(['--config', path.join(dir, 'egress-gate.yaml')], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`${path.join(dir, 'routes/bad-routes.yaml')}:8:16: route: "authorize" must be one of`), r.stderr);
  });

  it('--json: one object on stdout with the problems and their positions', async () => {
    const dir = workspace('json', { 'egress-gate.yaml': CONFIG, 'routes/bad-routes.yaml': BAD, 'routes/good.yaml': GOOD });
    const bad = await run(['--json', '--config', path.join(dir, 'egress-gate.yaml')], dir);
    assert.equal(bad.code, 1);
    const j = JSON.parse(bad.stdout);
    assert.equal(j.ok, false);
    assert.equal(j.problems[0].file, path.join(dir, 'routes/bad-routes.yaml'));
    assert.equal(j.problems[0].line, 8);
    assert.equal(j.problems[0].col, 16);
    const okDir = workspace('json-ok', { 'egress-gate.yaml': CONFIG, 'routes/good.yaml': GOOD });
    const good = await run(['--json', '--config', path.join(okDir, 'egress-gate.yaml')], okDir);
    assert.equal(good.code, 0, good.stderr);
    const g = JSON.parse(good.stdout);
    assert.equal(g.ok, true);
    assert.equal(g.routes, 1);
    assert.match(g.policy.digest, /^[A-Za-z0-9_-]{43}$/);
  });

  it('exits 1 for config problems, each as file:line:col', async () => {
    const dir = workspace('badconfig', { 'egress-gate.yaml': 'gate:\n  id: g\n  colour: red\npolicy:\n  routes: [./routes/]\n  max_stale: soon\n', 'routes/good.yaml': GOOD });
    const r = await run(['--config', 'egress-gate.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    const cfg = path.join(dir, 'egress-gate.yaml');
    assert.ok(r.stderr.includes(`${cfg}:3:3: unknown key "colour" in gate`), r.stderr);
    assert.ok(r.stderr.includes(`${cfg}:6:14: policy: "max_stale" must be a duration`), r.stderr);
  });

  it('checks ROUTEMAP arguments instead of the config\'s routes', async () => {
    const dir = workspace('args', { 'egress-gate.yaml': CONFIG, 'routes/bad-routes.yaml': BAD, 'other/good.yaml': GOOD });
    const r = await run(['--config', 'egress-gate.yaml', 'other/good.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const noConfig = workspace('args-only', { 'maps/bad.yaml': BAD });
    const r2 = await run(['maps/'], noConfig);
    assert.equal(r2.code, 1, r2.stderr);
    assert.match(r2.stderr, /maps\/bad\.yaml:8:16: /);
  });

  it('checks the example route maps when given nothing', async () => {
    const r = await run([], workspace('nothing', {}));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: /m);
  });

  it('warns about an expired exception and still exits 0', async () => {
    const ex = 'exceptions:\n  - id: EXC-OLD\n    surface: public\n    action: read\n    reason: r\n    approved_by: [me]\n    expires: 2001-01-01T00:00:00Z\n';
    const dir = workspace('expired', { 'egress-gate.yaml': CONFIG, 'routes/good.yaml': GOOD, 'routes/ex.yaml': ex });
    const r = await run(['--config', 'egress-gate.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^warning: .*EXC-OLD/m);
  });

  it('names both places of two equally specific routes', async () => {
    const dir = workspace('conflict', { 'egress-gate.yaml': CONFIG, 'routes/a.yaml': GOOD, 'routes/b.yaml': `# another team\n${GOOD}` });
    const r = await run(['--config', 'egress-gate.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`${path.join(dir, 'routes/a.yaml')}:2`) && r.stderr.includes(`${path.join(dir, 'routes/b.yaml')}:3`), r.stderr);
  });

  it('names both places of two routes for the same MCP tool, and passes two tools of one endpoint', async () => {
    const tool = (action: string, name: string) => `  - surface: mcp\n    action: ${action}\n    match: {host: mcp.test, path: /mcp, jsonrpc: {method: tools/call, tool: ${name}}}\n    authorize: none\n`;
    const ok = workspace('jsonrpc-ok', { 'egress-gate.yaml': CONFIG, 'routes/a.yaml': `routes:\n${tool('a', 'create_issue')}${tool('b', 'delete_repo')}` });
    assert.equal((await run(['--config', 'egress-gate.yaml'], ok)).code, 0);
    const dir = workspace('jsonrpc-conflict', { 'egress-gate.yaml': CONFIG, 'routes/a.yaml': `routes:\n${tool('a', 'create_issue')}`, 'routes/b.yaml': `# another team\nroutes:\n${tool('b', 'create_issue')}` });
    const r = await run(['--config', 'egress-gate.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`${path.join(dir, 'routes/a.yaml')}:2:5: route mcp/a conflicts with route mcp/b at ${path.join(dir, 'routes/b.yaml')}:3`), r.stderr);
    assert.match(r.stderr, /\(JSON-RPC tools\/call tool create_issue\)/);
  });

  it('validates the rest of a config whose routes are a remote bundle, saying it is not fetched', async () => {
    const dir = workspace('remote', { 'egress-gate.yaml': 'policy:\n  routes: https://policy.example/b.jws\n  bundle_keys: ./k.json\n' });
    const r = await run(['--config', 'egress-gate.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /not fetched/);
  });

  it('exits 1 for a missing config file, and 2 for a bad option', async () => {
    const dir = workspace('missing', {});
    const r = await run(['--config', 'nope.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /nope\.yaml: cannot read config: ENOENT/);
    const u = await run(['--bogus'], dir);
    assert.equal(u.code, 2, u.stderr);
  });
});
