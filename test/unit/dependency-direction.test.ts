/**
 * The README's Layout as a test: every relative import of the source tree, resolved to its
 * top-level folder, points the one way the README draws. A new import against it fails here
 * with the file and the import named.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What each top-level folder may import besides itself. */
const MAY_IMPORT: Record<string, string[]> = {
  policy: ['certs'],
  certs: [],
  receipts: [],
  runtime: ['policy', 'certs', 'receipts'],
  sdk: ['policy'],
  arbiter: ['runtime', 'policy', 'certs', 'receipts'],
  proxy: ['runtime', 'policy', 'certs', 'receipts'],
  cli: ['arbiter', 'proxy', 'runtime', 'policy', 'certs', 'receipts', 'sdk'],
};

function* sources(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function crossings(top: string): string[] {
  const bad: string[] = [];
  for (const file of sources(path.join(ROOT, top))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = (m[1] ?? m[2]) as string;
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).split(path.sep)[0] as string;
      if (target !== top && !(MAY_IMPORT[top] as string[]).includes(target)) bad.push(`${path.relative(ROOT, file)} imports ${spec} (${target}/)`);
    }
  }
  return bad;
}

describe('dependency direction (README, Layout)', () => {
  for (const top of Object.keys(MAY_IMPORT)) {
    it(`${top}/ imports only ${[top, ...(MAY_IMPORT[top] as string[])].join(', ')}`, () => {
      assert.deepEqual(crossings(top), []);
    });
  }

  it('finds an import against the direction (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(ROOT, 'receipts', '.probe-'));
    try {
      fs.writeFileSync(path.join(dir, 'probe.ts'), "import { x } from '../../proxy/gate.js';\n");
      assert.deepEqual(crossings('receipts').map((l) => l.replace(/\.probe-\w+/, '.probe')), ['receipts/.probe/probe.ts imports ../../proxy/gate.js (proxy/)']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
