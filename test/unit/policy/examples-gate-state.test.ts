// The example route maps never hand out the gate's own state (issue 16: the quickstart served the
// repository root, and the open demo route gave out .egress-gate/keys/dev-issuer/private.jwk.json).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicy } from '../../../policy/compile-policy.js';
import { examplesDir } from '../../../policy/examples-dir.js';
import { loadRouteMaps } from '../../../policy/load-route-maps.js';
import { normalizeRequest } from '../../../policy/normalize-request.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const STATE = ['/.egress-gate/keys/dev-issuer/private.jwk.json', '/.egress-gate/ca/ca-key.pem', '/.egress-gate/egress-gate.yaml', '/.egress-gate/receipts/'];
const LOCAL = /^(127\.|localhost$|\[?::1\]?$)/;

describe('policy/examples keep the gate state out of reach', () => {
  it('every example route to a local origin denies /.egress-gate/**, for every method', async () => {
    const { routes, exceptions } = await loadRouteMaps([examplesDir()]);
    const policy = compilePolicy({ routes, exceptions, sources: [] }, { nowMs: Date.now() });
    const local = routes.filter((r) => LOCAL.test(r.match.host));
    assert.ok(local.length > 0, 'the demo routes reach a local origin');
    for (const r of local) {
      const ports = Array.isArray(r.match.ports) ? r.match.ports : [r.match.scheme === 'https' ? 443 : 80];
      for (const port of ports) {
        for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) {
          for (const p of STATE) {
            const target = `${r.match.scheme ?? 'http'}://${r.match.host}:${port}${p}`;
            const m = policy.match(normalizeRequest({ method, target }));
            assert.ok(!m || m.authorize === 'deny', `${method} ${target} → ${m?.surface}/${m?.action} (${m?.authorize})`);
          }
        }
      }
    }
    assert.equal(policy.match(normalizeRequest({ method: 'GET', target: 'http://127.0.0.1:8000/.egress-gate/keys/dev-issuer/private.jwk.json' }))?.action, 'gate-state.read');
    assert.equal(policy.match(normalizeRequest({ method: 'GET', target: 'http://127.0.0.1:8000/index.html' }))?.action, 'files.read', 'the demo still serves files');
  });

  it('no example route names the gate ports (3128 proxy, 3129 admin)', async () => {
    const { routes } = await loadRouteMaps([examplesDir()]);
    for (const r of routes) {
      assert.ok(r.match.ports !== '*' || !LOCAL.test(r.match.host), `${r.surface}/${r.action}: any port on a local host`);
      if (Array.isArray(r.match.ports)) for (const p of [3128, 3129]) assert.ok(!r.match.ports.includes(p), `${r.surface}/${r.action} names port ${p}`);
    }
  });

  it('the quickstart (README, dev banner, demo.yaml) serves a temporary folder, not the repository', () => {
    for (const f of ['README.md', 'cli/dev-default.ts', 'policy/examples/demo.yaml']) {
      const lines = readFileSync(path.join(ROOT, f), 'utf8').split('\n').filter((l) => l.includes('http.server 8000'));
      assert.ok(lines.length > 0, f);
      for (const l of lines) assert.match(l, /--directory "\$\(mktemp -d\)"/, `${f}: ${l}`);
    }
  });
});
