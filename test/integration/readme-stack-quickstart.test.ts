/**
 * The README's "Quickstart of the whole stack", run as written: its blocks marked
 * `quickstart-step=NAME` are extracted from README.md and run by bash in a fresh temporary
 * folder — the arbiter, the gate and the origin as long-running processes (each in its own
 * process group), then the remaining steps in order in one shell, as a reader runs them in a
 * fourth. Their output and the two receipt logs are then checked: a denial that names
 * `permit_request`, a permit asked for with curl and used through the gate, a human approval
 * with the CLI, and `egress-gate audit` over both logs passing.
 *
 * The one substitution: `npx egress-gate` (which in the checkout runs the package's own bin)
 * runs the built bin of this tree, so the temporary folder needs no package and npm is not
 * asked anything. The ports are the development defaults' fixed ones; when one stays taken
 * the test fails saying which (it never skips).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, cleanEnv, readReceipts, tmpDir } from './harness.js';

const README = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md');
const STEPS = ['arbiter', 'gate', 'origin', 'deny', 'permit', 'approve', 'audit'] as const;
const SERVERS = [
  { step: 'arbiter', ready: 'http://127.0.0.1:8181/readyz' },
  { step: 'gate', ready: 'http://127.0.0.1:3129/readyz' },
  { step: 'origin', ready: 'http://127.0.0.1:8000/' },
] as const;
const PORTS = [8181, 3128, 3129, 8000];
const MARK = '@@quickstart-step ';
// Defined in every shell the test starts: `npx egress-gate …` is this tree's built bin.
const PRELUDE = `npx() { if [ "\${1:-}" = egress-gate ]; then shift; node ${JSON.stringify(BIN)} "$@"; else command npx "$@"; fi; }\n`;

/** The marked blocks of the README's stack quickstart, in order. */
function quickstartSteps(): Map<string, string> {
  const text = fs.readFileSync(README, 'utf8');
  const start = text.indexOf('### Quickstart of the whole stack');
  assert.ok(start >= 0, 'README.md has a "### Quickstart of the whole stack" section');
  const next = text.indexOf('\n### ', start + 1);
  const section = text.slice(start, next < 0 ? undefined : next);
  const steps = new Map<string, string>();
  for (const m of section.matchAll(/^```sh quickstart-step=([a-z-]+)\n([\s\S]*?)^```$/gm)) steps.set(m[1] as string, m[2] as string);
  assert.deepEqual([...steps.keys()], [...STEPS], 'the quickstart steps, in order');
  return steps;
}

/** Why `port` cannot be bound on 127.0.0.1 now, or undefined when it can. */
function portProblem(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE' ? 'in use' : `not bindable (${e.code})`));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(undefined)));
  });
}

/**
 * Fails naming the port when one stays taken. A few seconds' grace: another test file of the
 * suite (dev-default.test.ts) runs the development gate on them for a moment.
 */
async function assertPortsFree(ports: readonly number[], graceMs = 15_000): Promise<void> {
  const until = Date.now() + graceMs;
  for (;;) {
    const busy: string[] = [];
    for (const p of ports) { const why = await portProblem(p); if (why) busy.push(`127.0.0.1:${p} is ${why}`); }
    if (busy.length === 0) return;
    if (Date.now() > until) {
      assert.fail(`${busy.join('; ')}: the README's stack quickstart uses the fixed ports ${ports.join(', ')} of the development defaults; stop what holds them and run this test again`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Shell { proc: ChildProcess; out: () => string; exited: Promise<number | null> }

function shell(script: string, cwd: string): Shell {
  // Its own process group, so stopping it stops what the step started (node, python).
  const proc = spawn('bash', ['-c', PRELUDE + script], { cwd, env: cleanEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  proc.stdout!.on('data', (d) => chunks.push(String(d)));
  proc.stderr!.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { proc, out: () => chunks.join(''), exited };
}

async function waitReady(url: string, sh: Shell, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  for (;;) {
    if (sh.proc.exitCode !== null) assert.fail(`the ${what} step exited (${sh.proc.exitCode}):\n${sh.out()}`);
    try { if ((await fetch(url)).status === 200) return; } catch { /* not yet */ }
    if (Date.now() > until) assert.fail(`the ${what} step is not ready at ${url} after 30 s:\n${sh.out()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const servers: Shell[] = [];
after(async () => {
  for (const s of servers.reverse()) {
    if (s.proc.exitCode === null && s.proc.pid) try { process.kill(-s.proc.pid, 'SIGTERM'); } catch { /* gone */ }
    await s.exited;
  }
});

test("the README's quickstart of the whole stack works as written", async () => {
  const steps = quickstartSteps();
  await assertPortsFree(PORTS);
  const cwd = tmpDir('eg-stack-quickstart-');

  for (const { step, ready } of SERVERS) {
    const sh = shell(steps.get(step) as string, cwd);
    servers.push(sh);
    await waitReady(ready, sh, step);
  }

  const rest = STEPS.filter((s) => !SERVERS.some((x) => x.step === s));
  const script = `set -euo pipefail\n${rest.map((s) => `echo '${MARK}${s}'\n${steps.get(s)}`).join('\n')}\n`;
  const run = shell(script, cwd);
  const code = await Promise.race([run.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 90_000).unref())]);
  if (code === 'timeout' && run.proc.pid) process.kill(-run.proc.pid, 'SIGKILL');
  assert.equal(code, 0, `the quickstart's shell steps failed (exit ${code}):\n${run.out()}`);
  const out = new Map<string, string>();
  for (const part of run.out().split(MARK).slice(1)) out.set(part.slice(0, part.indexOf('\n')), part.slice(part.indexOf('\n') + 1));
  assert.deepEqual([...out.keys()], rest, run.out());

  // A denial that names permit_request.
  const denial = JSON.parse((out.get('deny') as string).trim());
  assert.equal(denial.reason, 'PERMIT_MISSING', out.get('deny'));
  assert.equal(denial.permit_request, 'http://127.0.0.1:8181/v1/permits');

  // A permit from the arbiter, used through the gate: its receipt names the arbiter's permit.
  const used = out.get('permit') as string;
  assert.match(used, /^egress-decision: PERMIT\r?$/im, used);
  const receiptId = /^egress-receipt: (\S+)\r?$/im.exec(used)?.[1];
  const accepted = readReceipts(path.join(cwd, '.egress-gate', 'receipts')).find((r) => r.payload.id === receiptId)?.payload;
  assert.equal(accepted?.reason, 'PERMIT_VALID', used);
  assert.equal(accepted?.permit?.iss, 'http://127.0.0.1:8181');
  const issued = readReceipts(path.join(cwd, '.egress-gate', 'arbiter', 'receipts')).map((r) => r.payload).filter((e) => e.kind === 'issuance' && e.decision === 'PERMIT');
  assert.ok(issued.some((e) => e.permit.sha256 === accepted?.permit?.sha256 && e.surface === 'demo' && e.action === 'notes.create'), 'the arbiter logged the permit the gate accepted');

  // A human approval with the CLI, and the poller's permit naming the approver.
  const approve = out.get('approve') as string;
  assert.match(approve, /agent:dev {2}payments\/charge\.create {2}POST https:\/\/api\.payments\.example\/v1\/charges {2}0\/1 {2}refund for ticket 12/, approve);
  assert.match(approve, /: approved \(1 of 1 approvals\)/, approve);
  const polled = JSON.parse(approve.trim().split('\n').at(-1) as string);
  assert.equal(polled.decision, 'PERMIT', approve);
  assert.deepEqual(polled.approvals, ['dev-approver']);
  assert.deepEqual(JSON.parse(Buffer.from((polled.permit as string).split('.')[1] as string, 'base64url').toString()).apr, ['dev-approver']);

  // The audit over both logs.
  assert.match(out.get('audit') as string, /^ok: 1 accepted permits, 2 issued, 0 not issued by the arbiter$/m, out.get('audit'));
});
