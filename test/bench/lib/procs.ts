/**
 * Starting and stopping the processes a bench run needs: the origin (nginx or Node), the bare
 * proxy, squid, mitmproxy. Each is a foreground child we started; stop() ends it by its pid.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BODY = '{"ok":true,"bench":"egress-gate","pad":"0123456789abcdef0123456789abcdef"}';

/** stop(killAfterMs): SIGTERM, then SIGKILL if still running after killAfterMs (default 8 s). */
export interface Proc { name: string; proc: ChildProcess; pid: number; stop(killAfterMs?: number): Promise<void>; output(): string }

/** The absolute path of a command on PATH (or in /usr/sbin), or undefined. */
export function which(cmd: string): string | undefined {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const p = path.join(d, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

export async function waitPort(port: number, p: Proc, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) throw new Error(`${p.name} exited at start: ${p.output().slice(-2000)}`);
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); r(true); });
      s.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) { await p.stop(); throw new Error(`${p.name} did not listen on ${port}: ${p.output().slice(-2000)}`); }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Spawns a foreground process whose output is kept (last 64 KiB) for error messages. */
export function startProc(name: string, cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string } = {}): Proc {
  const fd = o.logFile ? fs.openSync(o.logFile, 'a') : undefined;
  const proc = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'] });
  if (fd !== undefined) fs.closeSync(fd);
  let out = '';
  const keep = (d: Buffer) => { out = (out + String(d)).slice(-65536); };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    name, proc, pid: proc.pid!,
    output: () => (o.logFile ? tail(o.logFile) : out),
    stop: async (killAfterMs = 8000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t0 = Date.now();
      const t = setTimeout(() => {
        process.stdout.write(`  (${name} pid ${proc.pid} still running ${Date.now() - t0} ms after SIGTERM: SIGKILL${name === 'gate' ? '; its CPU profile is lost' : ''})\n`);
        proc.kill('SIGKILL');
      }, killAfterMs);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A test CA and a 127.0.0.1 server certificate (ECDSA P-256) for the HTTPS origin. */
export function originCerts(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const ossl = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '7',
    '-subj', '/CN=egress-bench origin CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('origin.key'), '-out', f('origin.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n');
  ossl(['x509', '-req', '-in', f('origin.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('origin.pem'), '-days', '7', '-extfile', f('ext.cnf')]);
  return { ca: f('ca.pem'), cert: f('origin.pem'), key: f('origin.key') };
}

export interface Origin { kind: 'nginx' | 'node'; http: number; https: number; proc: Proc }

/** nginx from Debian when installed (one worker, foreground, `return 200`), else a Node origin. */
export async function startOrigin(dir: string, certs: { cert: string; key: string }): Promise<Origin> {
  const [hp, sp] = [await freePort(), await freePort()];
  const nginx = which('nginx');
  let proc: Proc;
  if (nginx) {
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(conf, `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  default_type application/json;
  ssl_session_cache off;
  ssl_session_tickets off;
  server { listen 127.0.0.1:${hp}; location / { return 200 '${BODY}'; } }
  server {
    listen 127.0.0.1:${sp} ssl;
    ssl_certificate ${certs.cert};
    ssl_certificate_key ${certs.key};
    location / { return 200 '${BODY}'; }
  }
}
`);
    proc = startProc('nginx', nginx, ['-p', dir, '-c', conf, '-e', path.join(dir, 'nginx-error.log')]);
  } else {
    proc = startProc('node-origin', process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'node-origin.ts'), String(hp), String(sp), certs.cert, certs.key, BODY], { cwd: BENCH_DIR });
  }
  await waitPort(hp, proc);
  await waitPort(sp, proc);
  return { kind: nginx ? 'nginx' : 'node', http: hp, https: sp, proc };
}

export async function startBare(): Promise<{ port: number; proc: Proc }> {
  const port = await freePort();
  const proc = startProc('bare-proxy', process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'bare-proxy.ts'), String(port)], { cwd: BENCH_DIR });
  await waitPort(port, proc);
  return { port, proc };
}

/** squid as a plain forward proxy (no cache, no logs), CONNECT to any port allowed. */
export async function startSquid(dir: string): Promise<{ port: number; proc: Proc } | undefined> {
  const squid = which('squid');
  if (!squid) return undefined;
  const port = await freePort();
  const d = fs.mkdtempSync(path.join(dir, 'squid-'));
  fs.chmodSync(d, 0o777);
  fs.writeFileSync(path.join(d, 'squid.conf'), `http_port 127.0.0.1:${port}
acl local src 127.0.0.1/32
http_access allow local
http_access deny all
cache deny all
cache_mem 8 MB
access_log none
cache_store_log none
cache_log ${d}/cache.log
pid_filename none
coredump_dir ${d}
visible_hostname egress-bench
via off
forwarded_for delete
shutdown_lifetime 0 seconds
max_filedescriptors 8192
`);
  const proc = startProc('squid', squid, ['-N', '-f', path.join(d, 'squid.conf')]);
  await waitPort(port, proc);
  return { port, proc };
}

/** mitmdump intercepting TLS (its CA in a fresh confdir; upstream certificates not checked). */
export async function startMitm(dir: string): Promise<{ port: number; proc: Proc; ca: string } | undefined> {
  const mitm = which('mitmdump');
  if (!mitm) return undefined;
  const port = await freePort();
  const conf = path.join(dir, 'mitmproxy');
  fs.mkdirSync(conf, { recursive: true });
  const proc = startProc('mitmdump', mitm, ['--listen-host', '127.0.0.1', '--listen-port', String(port), '--set', `confdir=${conf}`, '--ssl-insecure', '-q', '--set', 'flow_detail=0']);
  await waitPort(port, proc, 60_000);
  return { port, proc, ca: path.join(conf, 'mitmproxy-ca-cert.pem') };
}

function tail(file: string): string {
  try { const b = fs.readFileSync(file); return b.subarray(Math.max(0, b.length - 8192)).toString('utf8'); } catch { return ''; }
}
