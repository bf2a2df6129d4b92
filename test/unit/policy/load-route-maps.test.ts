import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../../../policy/config-error.js';
import { loadRouteMaps } from '../../../policy/load-route-maps.js';

const root = mkdtempSync(path.join(tmpdir(), 'eg-routemaps-'));
after(() => rmSync(root, { recursive: true, force: true }));

const route = (action: string, host: string): string => `routes:\n  - surface: s\n    action: ${action}\n    match: {host: ${host}}\n    authorize: none\n`;
const write = (rel: string, text: string): string => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return p;
};

describe('loadRouteMaps', () => {
  it('reads a folder\'s *.yaml and *.yml sorted by name, skipping hidden entries and other files', async () => {
    write('maps/b.yml', route('b', 'b.test'));
    write('maps/a.yaml', route('a', 'a.test'));
    write('maps/notes.txt', 'not a route map');
    write('maps/..2024_01_01/c.yaml', route('hidden', 'c.test'));
    symlinkSync('..2024_01_01', path.join(root, 'maps/..data'));
    write('maps/sub/d.yaml', route('nested', 'd.test'));
    const extra = write('extra.yaml', route('x', 'x.test'));
    const r = await loadRouteMaps([path.join(root, 'maps'), extra]);
    assert.deepEqual(r.routes.map((x) => x.action), ['a', 'b', 'x']);
    assert.deepEqual(r.sources.map((s) => path.relative(root, s.path)), ['maps/a.yaml', 'maps/b.yml', 'extra.yaml']);
    assert.equal(r.sources[0]?.text, route('a', 'a.test'));
    assert.equal(r.routes[0]?.where.file, path.join(root, 'maps/a.yaml'));
  });

  it('loads a file named twice once', async () => {
    const f = write('once/one.yaml', route('one', 'one.test'));
    const r = await loadRouteMaps([path.join(root, 'once'), f]);
    assert.equal(r.routes.length, 1);
  });

  it('collects problems from every file, and missing sources, into one ConfigError', async () => {
    const bad1 = write('bad/1.yaml', 'routes:\n  - surface: s\n    action: a\n    match: {host: a.test}\n    authorize: maybe\n');
    const bad2 = write('bad/2.yaml', 'routes:\n  - surface: s\n    action: b\n    match: {host: "x.*.test"}\n    authorize: none\n');
    const missing = path.join(root, 'nope.yaml');
    await assert.rejects(loadRouteMaps([path.join(root, 'bad'), missing]), (e: ConfigError) => {
      assert.deepEqual(e.problems.map((p) => [p.file, p.line, p.col]), [[missing, 0, 0], [bad1, 5, 16], [bad2, 4, 19]]);
      assert.match(e.problems[0]?.message ?? '', /ENOENT/);
      return true;
    });
  });

  it('refuses an empty folder and duplicate exception ids across files', async () => {
    mkdirSync(path.join(root, 'empty'));
    await assert.rejects(loadRouteMaps([path.join(root, 'empty')]), (e: ConfigError) => (e.problems[0]?.message ?? '').includes('no *.yaml'));
    const ex = (id: string): string => `exceptions:\n  - id: ${id}\n    surface: s\n    action: a\n    reason: r\n    approved_by: [me]\n    expires: 2099-01-01T00:00:00Z\n`;
    const first = write('dups/a.yaml', ex('EXC-1'));
    const second = write('dups/b.yaml', ex('EXC-1'));
    await assert.rejects(loadRouteMaps([path.join(root, 'dups')]), (e: ConfigError) => {
      assert.equal(e.problems.length, 1);
      assert.deepEqual([e.problems[0]?.file, e.problems[0]?.line, e.problems[0]?.col], [second, 2, 5]);
      assert.ok(e.problems[0]?.message.includes(`${first}:2`));
      return true;
    });
  });
});
