/**
 * deploy/bypass/egress-lockdown.sh, for real: two network namespaces joined by a veth pair,
 * an origin in the second, the script run in the first. Needs root, iproute2, iptables and
 * setpriv (util-linux); it fails, naming what is missing, when they are absent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'deploy/bypass/egress-lockdown.sh');
const GATE_UID = 10001;
const AGENT_UID = 10002;
const OTHER_UID = 10005;
const tag = String(process.pid % 100000);
const nsA = `eg-a-${tag}`;
const nsB = `eg-b-${tag}`;
const vethA = `ega${tag}`;
const vethB = `egb${tag}`;
const ORIGIN = '10.233.0.2';

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (run as uid 0)');
  for (const bin of ['ip', 'iptables', 'iptables-restore', 'ip6tables', 'setpriv']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'pipe' }); } catch { missing.push(`${bin} (apt-get install iproute2 iptables util-linux)`); }
  }
  return missing;
}

const sh = (args: string[]): string => execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inA = (args: string[], env: Record<string, string> = {}): string =>
  sh(['ip', 'netns', 'exec', nsA, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...args]);
const asUid = (uid: number): string[] => ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];

const children: ChildProcess[] = [];
/** Starts a long-running node program in a namespace and waits for its "ready" line. */
async function startIn(ns: string, prefix: string[], program: string, arg: string): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, ...prefix, process.execPath, '-e', program, arg], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code) => reject(new Error(`${program.slice(0, 40)}… exited ${code}: ${err}`)));
  });
}

const ORIGIN_SERVER = `
const [host, port] = process.argv[1].split(':');
require('http').createServer((q, s) => s.end('origin:' + q.url)).listen(+port, host, () => console.log('ready'));`;
// A minimal forward proxy standing in for the gate (absolute-form HTTP only): the test is of
// the lockdown, not of the gate, and must not depend on the gate's own start-up.
const FORWARD_PROXY = `
const http = require('http');
http.createServer((q, s) => {
  const u = new URL(q.url);
  const up = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: q.method }, (r) => { s.writeHead(r.statusCode); r.pipe(s); });
  up.on('error', (e) => { s.writeHead(502); s.end('proxy:' + e.code); });
  q.pipe(up);
}).listen(+process.argv[1], '127.0.0.1', () => console.log('ready'));`;
const CLIENT = `
const [url, proxy] = process.argv.slice(1);
const u = new URL(url);
const o = proxy ? { host: '127.0.0.1', port: +proxy, path: url } : { host: u.hostname, port: u.port, path: u.pathname };
const r = require('http').get({ ...o, timeout: 3000 }, (res) => { let b = ''; res.on('data', (d) => b += d); res.on('end', () => console.log('OK ' + res.statusCode + ' ' + b)); });
r.on('timeout', () => { console.log('ERR TIMEOUT'); r.destroy(); });
r.on('error', (e) => console.log('ERR ' + e.code));`;

function fetchAs(uid: number, url: string, proxyPort?: number): string {
  return inA([...asUid(uid), process.execPath, '-e', CLIENT, url, ...(proxyPort ? [String(proxyPort)] : [])]).trim();
}

describe('egress-lockdown.sh in network namespaces', () => {
  before(async () => {
    const missing = missingPrerequisites();
    if (missing.length > 0) assert.fail(`the lockdown test needs: ${missing.join(', ')}`);
    sh(['ip', 'netns', 'add', nsA]);
    sh(['ip', 'netns', 'add', nsB]);
    sh(['ip', 'link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB]);
    for (const [ns, dev, addr] of [[nsA, vethA, '10.233.0.1/30'], [nsB, vethB, `${ORIGIN}/30`]] as const) {
      sh(['ip', '-n', ns, 'addr', 'add', addr, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await startIn(nsB, [], ORIGIN_SERVER, `${ORIGIN}:8080`);
    await startIn(nsA, asUid(GATE_UID), FORWARD_PROXY, '3128');
    await startIn(nsA, [], ORIGIN_SERVER, '127.0.0.1:3999');
    // Stands in for the gate's admin listener (3129).
    await startIn(nsA, asUid(GATE_UID), ORIGIN_SERVER, '127.0.0.1:3129');
  });

  after(() => {
    for (const c of children) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
    for (const ns of [nsA, nsB]) { try { sh(['ip', 'netns', 'del', ns]); } catch { /* not created */ } }
  });

  it('before the lockdown the agent UID reaches the origin directly (the setup is sound)', () => {
    assert.equal(fetchAs(AGENT_UID, `http://${ORIGIN}:8080/direct`), 'OK 200 origin:/direct');
  });

  it('installs its chain idempotently: a second run leaves one jump and the same rules', () => {
    const env = { GATE_UID: String(GATE_UID), AGENT_UID: String(AGENT_UID), IPV6: 'on' };
    inA(['sh', script], env);
    const first = inA(['iptables', '-S']);
    const out = inA(['sh', script], env);
    assert.match(out, /iptables: EGRESS_GATE installed/);
    assert.equal(inA(['iptables', '-S']), first);
    assert.equal(first.split('\n').filter((l) => l === '-A OUTPUT -j EGRESS_GATE').length, 1);
    assert.match(inA(['ip6tables', '-S', 'OUTPUT']), /^-A OUTPUT -j EGRESS_GATE$/m);
  });

  it('the agent UID cannot connect to the origin directly', () => {
    assert.equal(fetchAs(AGENT_UID, `http://${ORIGIN}:8080/direct`), 'ERR ECONNREFUSED');
  });

  it('another non-gate UID cannot either', () => {
    assert.equal(fetchAs(OTHER_UID, `http://${ORIGIN}:8080/direct`), 'ERR ECONNREFUSED');
  });

  it('the gate UID can', () => {
    assert.equal(fetchAs(GATE_UID, `http://${ORIGIN}:8080/gate`), 'OK 200 origin:/gate');
  });

  it('the agent UID reaches the origin through the gate port on loopback', () => {
    assert.equal(fetchAs(AGENT_UID, `http://${ORIGIN}:8080/via-gate`, 3128), 'OK 200 origin:/via-gate');
  });

  it('the agent UID cannot reach other loopback ports', () => {
    assert.equal(fetchAs(AGENT_UID, 'http://127.0.0.1:3999/other'), 'ERR ECONNREFUSED');
    assert.equal(fetchAs(GATE_UID, 'http://127.0.0.1:3999/other'), 'OK 200 origin:/other');
  });

  it('the agent UID cannot reach the gate admin port; the gate UID (probes) can', () => {
    assert.equal(fetchAs(AGENT_UID, 'http://127.0.0.1:3129/healthz'), 'ERR ECONNREFUSED');
    assert.equal(fetchAs(GATE_UID, 'http://127.0.0.1:3129/healthz'), 'OK 200 origin:/healthz');
    assert.match(inA(['iptables', '-w', '-S', 'EGRESS_GATE']), new RegExp(`-A EGRESS_GATE -o lo -p tcp -m owner --uid-owner ${AGENT_UID} -m tcp --dport 3129 -j REJECT --reject-with tcp-reset`));
  });

  it('refuses bad parameters before touching any rule', () => {
    assert.throws(() => inA(['sh', script], { GATE_UID: '10001', AGENT_UID: '10002', AGENT_LOOPBACK_PORTS: '3128,3129' }), /must not name the admin port 3129/);
    assert.throws(() => inA(['sh', script], { GATE_UID: '10001', AGENT_UID: '10002', GATE_ADMIN_PORT: 'x' }), /GATE_ADMIN_PORT must be a port number/);
    assert.throws(() => inA(['sh', script], { GATE_UID: '10001', AGENT_UID: '10001' }), /must differ/);
    assert.throws(() => inA(['sh', script], { GATE_UID: '0', AGENT_UID: '10002' }), /must not be 0/);
    assert.throws(() => inA(['sh', script], { GATE_UID: '10001', AGENT_UID: '10002', AGENT_LOOPBACK_PORTS: '3128;x' }), /comma-separated/);
  });
});
