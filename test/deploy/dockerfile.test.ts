/**
 * deploy/Dockerfile's invariants, by parsing it (hadolint is not packaged in Debian, and
 * there is no Docker engine here): multi-stage, Node 24 base, production dependencies only
 * in the final stage, non-root numeric USER, probe, entrypoint and command.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

import { parseDockerfile, stages } from './dockerfile-parse.js';

describe('deploy/Dockerfile', () => {
  const ins = parseDockerfile(readFileSync(path.join(root, 'deploy/Dockerfile'), 'utf8'));
  const st = stages(ins);
  const final = st.at(-1)!;
  const arg = ins.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='))?.args.split('=')[1];

  it('is multi-stage on a Node 24 base', () => {
    assert.ok(st.length >= 2, 'at least a build and a runtime stage');
    assert.match(arg ?? '', /^node:24[.\w-]*-(bookworm|bullseye|trixie)-slim$/);
    for (const s of st) assert.match(s[0]!.args, /^\$\{NODE_IMAGE\}/);
  });

  it('the final stage installs production dependencies only, without scripts, and copies the build', () => {
    const runs = final.filter((i) => i.op === 'RUN').map((i) => i.args);
    const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    assert.equal(installs.length, 1);
    assert.match(installs[0]!, /npm ci --omit=dev --ignore-scripts/);
    assert.ok(!runs.some((r) => /npm (run )?build|tsc/.test(r)), 'no build in the final stage');
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const p of ['/src/dist', '/src/bin', '/src/policy/examples', '/src/policy/schema', '/src/package-lock.json']) {
      assert.ok(copies.some((c) => c.startsWith('--from=build') && c.includes(p)), `final stage copies ${p}`);
    }
  });

  it('runs as a numeric non-root user, with HOME and TMPDIR on /tmp (read-only root fs)', () => {
    const users = final.filter((i) => i.op === 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = users[0]!.args.split(':').map(Number);
    assert.ok(Number.isInteger(uid) && uid! >= 10000, 'numeric UID >= 10000');
    assert.ok(Number.isInteger(gid) && gid! > 0, 'numeric GID');
    const env = final.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    assert.match(env, /HOME=\/tmp/);
    assert.match(env, /TMPDIR=\/tmp/);
  });

  it('has a HEALTHCHECK on /healthz, the entrypoint and the default command', () => {
    assert.match(final.find((i) => i.op === 'HEALTHCHECK')?.args ?? '', /127\.0\.0\.1:3129\/healthz/);
    assert.equal(final.find((i) => i.op === 'ENTRYPOINT')?.args, '["node", "/app/bin/egress-gate.js"]');
    assert.equal(final.find((i) => i.op === 'CMD')?.args, '["start", "--config", "/etc/egress-gate/egress-gate.yaml"]');
  });

  it('.dockerignore keeps secrets, state and dependencies out, and sources in', () => {
    const ignore = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const p of ['**/node_modules', 'dist', '.git', '**/*.pem', '**/*.jwk.json', '.egress-gate', '**/*.jsonl']) assert.ok(ignore.includes(p), p);
    assert.ok(!ignore.some((p) => /^(\*\*\/)?(cli|proxy|receipts|policy|certs|bin)(\/|$)/.test(p)), 'sources (cli/, proxy/, receipts/, …) stay in the context');
  });
});
