#!/usr/bin/env node
// `npm test` runs this first: the suite needs a few system tools (a test never skips for a
// missing one). As root with apt-get it installs what is missing; otherwise it stops at once
// with the one command to run. `plan()` is the decision, kept pure so a unit test can check it
// (test/unit/setup/ensure-tools.test.ts); `main()` looks at the machine and acts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each command the suite runs, and the Debian package that provides it. */
export const TOOLS = [
  { cmd: 'curl', pkg: 'curl', for: 'HTTP client tests' },
  { cmd: 'openssl', pkg: 'openssl', for: 'TLS tests' },
  { cmd: 'redis-server', pkg: 'redis-server', for: 'replay: redis:// tests' },
  { cmd: 'prlimit', pkg: 'util-linux', for: 'the receipt write-failure test' },
  { cmd: 'setpriv', pkg: 'util-linux', for: 'the lockdown test' },
  { cmd: 'ip', pkg: 'iproute2', for: 'the lockdown test (network namespaces)' },
  { cmd: 'iptables', pkg: 'iptables', for: 'the lockdown test' },
  { cmd: 'strace', pkg: 'strace', for: 'syscall traces when a test fails' },
  { cmd: 'kubectl', pkg: 'kubectl', for: 'the kustomize tests' },
  { cmd: 'chromium', pkg: 'chromium', for: 'the browser tests (approval page, admin console)' },
];

/** kubectl is not in Debian's own archive; without an apt source that has it, this installs it. */
export const KUBECTL_COMMAND =
  'curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/$(curl -fsSL https://dl.k8s.io/release/stable.txt)/bin/linux/amd64/kubectl" && chmod 0755 /usr/local/bin/kubectl';

/**
 * What to do, from what is missing.
 * @param {{ missing: string[], isRoot: boolean, hasApt: boolean, aptHas: (pkg: string) => boolean }} m
 *   missing: commands not found; aptHas: whether apt can install that package here.
 * @returns {{ action: 'none' } | { action: 'install', commands: string[][] } | { action: 'stop', command: string, message: string }}
 */
export function plan({ missing, isRoot, hasApt, aptHas }) {
  if (missing.length === 0) return { action: 'none' };
  const pkgs = [...new Set(TOOLS.filter((t) => missing.includes(t.cmd)).map((t) => t.pkg))].sort();
  const viaApt = pkgs.filter((p) => p !== 'kubectl' || aptHas('kubectl'));
  const needKubectlDownload = pkgs.includes('kubectl') && !viaApt.includes('kubectl');
  const aptLine = viaApt.length > 0 ? `apt-get install -y --no-install-recommends ${viaApt.join(' ')}` : '';
  if (isRoot && hasApt && !needKubectlDownload) {
    return {
      action: 'install',
      commands: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...viaApt],
      ],
    };
  }
  const sudo = isRoot ? '' : 'sudo ';
  const parts = [];
  if (aptLine) parts.push(`${sudo}apt-get update && ${sudo}${aptLine}`);
  if (needKubectlDownload) parts.push(isRoot ? KUBECTL_COMMAND : `sudo sh -c '${KUBECTL_COMMAND.replaceAll("'", "'\\''")}'`);
  const command = parts.join(' && ');
  const why = TOOLS.filter((t) => missing.includes(t.cmd)).map((t) => `${t.cmd} (${t.for})`).join(', ');
  return { action: 'stop', command, message: `the tests need ${why}, which ${missing.length === 1 ? 'is' : 'are'} not installed. Run:\n\n  ${command}\n\nthen npm test again.` };
}

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Whether a command is on PATH (or in the sbin folders a non-root PATH often lacks). */
export function has(cmd, envPath = process.env.PATH ?? '') {
  for (const dir of [...envPath.split(path.delimiter).filter(Boolean), ...SEARCH]) {
    try { fs.accessSync(path.join(dir, cmd), fs.constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

function aptHas(pkg) {
  const r = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
  const m = /Candidate:\s*(\S+)/.exec(r.stdout ?? '');
  if (!m || m[1] === '(none)') return false;
  // Installed by hand (only /var/lib/dpkg/status lists it) is not installable from a source.
  return /^\s+\d+\s+(https?|file|cdrom):/m.test(r.stdout);
}

/**
 * Installs what is missing of `cmds` (default: every tool) as `plan` decides; 0 when all are
 * there afterwards, else 1 after printing why. Browser tests call it for `chromium` alone
 * (test/kit/chromium.ts), so a lone run of one of them sets itself up the same way.
 */
export function ensure(cmds = TOOLS.map((t) => t.cmd)) {
  const missing = cmds.filter((c) => !has(c));
  const p = plan({ missing, isRoot: process.getuid?.() === 0, hasApt: has('apt-get'), aptHas });
  if (p.action === 'none') return 0;
  if (p.action === 'stop') {
    console.error(`ensure-tools: ${p.message}`);
    return 1;
  }
  console.error(`ensure-tools: installing ${p.commands.at(-1).slice(5).join(' ')}`);
  for (const [cmd, ...args] of p.commands) {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.error(`ensure-tools: \`${cmd} ${args.join(' ')}\` failed (exit ${r.status}); install those packages and run npm test again`);
      return 1;
    }
  }
  const still = cmds.filter((c) => !has(c));
  if (still.length > 0) {
    console.error(`ensure-tools: still missing after apt-get: ${still.join(' ')}`);
    return 1;
  }
  return 0;
}

export function main() {
  return ensure();
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main());
