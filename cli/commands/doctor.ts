/**
 * `egress-gate doctor [--gate URL] [--admin URL] [--ca FILE] [--probe host:port]…` — run where
 * the agent runs. One line per check, `ok`, `warn` or `fail`: which proxy variables are set
 * (and where the two cases disagree), whether the gate answers (proxy and admin /healthz),
 * whether the gate CA is in the trust stores the common clients read, and whether a direct
 * connection to each --probe address is refused (only the lockdown, deploy/, makes it so).
 * Exit 0 when nothing failed, 1 otherwise.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { UsageError, type Command } from './command.js';

type Level = 'ok' | 'warn' | 'fail';
interface Line { level: Level; check: string; message: string }

const PAIRS = [['HTTP_PROXY', 'http_proxy'], ['HTTPS_PROXY', 'https_proxy'], ['NO_PROXY', 'no_proxy']] as const;
const STORES = [
  ['NODE_EXTRA_CA_CERTS', 'Node'],
  ['SSL_CERT_FILE', 'Python ssl, Go, OpenSSL'],
  ['REQUESTS_CA_BUNDLE', 'Python requests'],
  ['CURL_CA_BUNDLE', 'curl'],
] as const;

/** The proxy variables, checked: both cases, mismatches, holes. Pure (env in, lines out). */
export function checkVariables(env: NodeJS.ProcessEnv): Line[] {
  const out: Line[] = [];
  for (const [upper, lower] of PAIRS) {
    const u = env[upper];
    const l = env[lower];
    const isNo = upper === 'NO_PROXY';
    const check = `env ${upper}/${lower}`;
    if (u === undefined && l === undefined) {
      out.push(isNo ? { level: 'ok', check, message: 'not set: every host goes through the gate' }
        : { level: 'fail', check, message: `neither is set: clients send ${upper === 'HTTP_PROXY' ? 'http' : 'https'}:// requests straight to the origin` });
    } else if (u !== undefined && l !== undefined && u !== l) {
      out.push({ level: 'fail', check, message: `they differ (${upper}=${u}, ${lower}=${l}): clients disagree on where to send requests` });
    } else if (u === undefined || l === undefined) {
      const set = u !== undefined ? upper : lower;
      const missing = u !== undefined ? lower : upper;
      const why = upper === 'HTTP_PROXY' && u !== undefined ? 'curl and wget read only lowercase http_proxy' : `clients that read only ${missing} miss it`;
      out.push({ level: 'warn', check, message: `only ${set} is set (${u ?? l}); set ${missing} too: ${why}` });
    } else out.push({ level: 'ok', check, message: `both set (${u})` });
    const value = u ?? l;
    if (isNo && value !== undefined && value.split(',').some((h) => h.trim() === '*')) {
      out.push({ level: 'fail', check, message: 'NO_PROXY contains "*": every host bypasses the gate' });
    }
  }
  if (env.NODE_USE_ENV_PROXY !== '1') {
    out.push({ level: 'warn', check: 'env NODE_USE_ENV_PROXY', message: "not 1: Node 24's built-in fetch ignores the proxy variables (Node 20's fetch always does: use the SDK's gateFetch())" });
  } else out.push({ level: 'ok', check: 'env NODE_USE_ENV_PROXY', message: '1 (Node 24.5+ fetch and http use the proxy variables)' });
  return out;
}

function pemCerts(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Whether each trust store variable names a file holding `caPem`. Pure but for reading the files. */
export function checkTrust(env: NodeJS.ProcessEnv, caPem: string | undefined): Line[] {
  if (!caPem) return [{ level: 'warn', check: 'trust', message: 'the gate CA could not be had (from --ca or the admin /ca.pem): trust stores not checked' }];
  const fp = new X509Certificate(caPem).fingerprint256;
  return STORES.map(([v, who]) => {
    const check = `trust ${v}`;
    const file = env[v];
    if (!file) return { level: 'warn', check, message: `not set: ${who} will not trust the gate CA (HTTPS through the gate fails)` };
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (e) {
      return { level: 'fail', check, message: `${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
    const found = pemCerts(text).some((p) => { try { return new X509Certificate(p).fingerprint256 === fp; } catch { return false; } });
    return found ? { level: 'ok', check, message: `${file} holds the gate CA (${who})` }
      : { level: 'fail', check, message: `${file} does not hold the gate CA: ${who} will refuse the gate's certificates` };
  });
}

function hostPort(url: string, what: string): { host: string; port: number } {
  let u: URL;
  try { u = new URL(url); } catch { throw new UsageError(`${what} must be a URL like http://127.0.0.1:3128 (got ${url})`); }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

/** Sends one absolute-form request to the gate's proxy port; the gate answers it with Egress-Decision. */
function askGate(gate: { host: string; port: number }, timeoutMs: number): Promise<Line> {
  return new Promise((resolve) => {
    const s = net.connect(gate.port, gate.host);
    let buf = '';
    const done = (l: Line) => { clearTimeout(t); s.destroy(); resolve(l); };
    const t = setTimeout(() => done({ level: 'fail', check: 'gate proxy', message: `no answer from ${gate.host}:${gate.port} within ${timeoutMs} ms` }), timeoutMs);
    s.on('error', (e: NodeJS.ErrnoException) => done({ level: 'fail', check: 'gate proxy', message: `${gate.host}:${gate.port}: ${e.code ?? e.message}` }));
    s.on('connect', () => s.write('GET http://egress-gate-doctor.invalid/ HTTP/1.1\r\nHost: egress-gate-doctor.invalid\r\nConnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const decision = /^egress-decision:\s*(\S+)/im.exec(buf.slice(0, end))?.[1];
      const reason = /^egress-reason:\s*(\S+)/im.exec(buf.slice(0, end))?.[1];
      done(decision ? { level: 'ok', check: 'gate proxy', message: `${gate.host}:${gate.port} answers (a test request: ${decision}${reason ? ` ${reason}` : ''})` }
        : { level: 'fail', check: 'gate proxy', message: `${gate.host}:${gate.port} answers, but not as egress-gate (no Egress-Decision header)` });
    });
  });
}

/** GET on the admin port, direct: a fresh Agent, so no proxy variable (NODE_USE_ENV_PROXY) reroutes it. */
function getText(url: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const agent = new http.Agent();
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => { agent.destroy(); resolve({ status: res.statusCode ?? 0, text }); });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => { agent.destroy(); reject(e); });
  });
}

/** A direct TCP connection to `authority`, bypassing every proxy: refused is what the lockdown gives. */
export function probe(authority: string, timeoutMs: number): Promise<Line> {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(authority);
  if (!m) throw new UsageError(`--probe needs host:port (got ${authority})`);
  const [, host, port] = m as unknown as [string, string, string];
  const check = `direct ${authority}`;
  return new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    const done = (l: Line) => { clearTimeout(t); s.destroy(); resolve(l); };
    const t = setTimeout(() => done({ level: 'ok', check, message: `no connection within ${timeoutMs} ms (dropped): traffic that forgets the proxy cannot leave this way` }), timeoutMs);
    s.on('connect', () => done({ level: 'fail', check, message: 'a direct connection succeeded: a client that forgets the proxy bypasses the gate (only the lockdown in deploy/ refuses it)' }));
    s.on('error', (e: NodeJS.ErrnoException) => done({ level: 'ok', check, message: `refused (${e.code ?? e.message}): traffic that forgets the proxy cannot leave this way` }));
  });
}

export const command: Command = {
  name: 'doctor',
  summary: 'check, where the agent runs, that its traffic can only go through the gate',
  usage: `usage: egress-gate doctor [--gate URL] [--admin URL] [--ca FILE] [--probe host:port]… [--timeout 2s]

Run where the agent runs. Prints one line per check, ok / warn / fail:
  env      HTTP_PROXY/http_proxy, HTTPS_PROXY/https_proxy, NO_PROXY/no_proxy (both cases, mismatches), NODE_USE_ENV_PROXY
  gate     the proxy answers (--gate, default: HTTPS_PROXY, HTTP_PROXY, else http://127.0.0.1:3128) and admin /healthz (--admin, default http://127.0.0.1:3129)
  trust    the gate CA (--ca FILE, else the admin's /ca.pem) is in NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE
  direct   a direct connection to each --probe address is refused (the lockdown in deploy/ does that)
Exit 0 when no check failed, 1 otherwise.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: { gate: { type: 'string' }, admin: { type: 'string' }, ca: { type: 'string' }, probe: { type: 'string', multiple: true }, timeout: { type: 'string' } },
    });
    const env = process.env;
    const timeoutMs = values.timeout ? Number(/^(\d+)(ms|s)$/.exec(values.timeout)?.[1]) * (values.timeout.endsWith('ms') ? 1 : 1000) : 2000;
    if (!(timeoutMs > 0)) throw new UsageError('--timeout is a duration like 2s or 500ms');
    const gateUrl = values.gate ?? env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy ?? 'http://127.0.0.1:3128';
    const adminUrl = (values.admin ?? 'http://127.0.0.1:3129').replace(/\/+$/, '');
    const gate = hostPort(gateUrl, '--gate');
    hostPort(adminUrl, '--admin');
    for (const p of values.probe ?? []) if (!/^\[?[^\]]+?\]?:\d{1,5}$/.test(p)) throw new UsageError(`--probe needs host:port (got ${p})`);

    const lines: Line[] = [...checkVariables(env)];
    lines.push(await askGate(gate, timeoutMs));
    try {
      const h = await getText(`${adminUrl}/healthz`, timeoutMs);
      lines.push(h.status === 200 ? { level: 'ok', check: 'gate admin', message: `${adminUrl}/healthz answers 200` }
        : { level: 'fail', check: 'gate admin', message: `${adminUrl}/healthz answers ${h.status}` });
    } catch (e) {
      lines.push({ level: 'warn', check: 'gate admin', message: `${adminUrl}/healthz: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (fine if the admin port is kept out of the agent's reach)` });
    }
    let caPem: string | undefined;
    if (values.ca) {
      try { caPem = pemCerts(readFileSync(values.ca, 'utf8'))[0]; } catch (e) { throw new UsageError(`--ca ${values.ca}: ${(e as Error).message}`); }
      if (!caPem) throw new UsageError(`--ca ${values.ca} holds no PEM certificate`);
    } else {
      try {
        const r = await getText(`${adminUrl}/ca.pem`, timeoutMs);
        if (r.status === 200) caPem = pemCerts(r.text)[0];
      } catch { /* reported below */ }
    }
    lines.push(...checkTrust(env, caPem));
    for (const p of values.probe ?? []) lines.push(await probe(p, timeoutMs));

    const w = Math.max(...lines.map((l) => l.check.length));
    for (const l of lines) process.stdout.write(`${l.level.padEnd(4)}  ${l.check.padEnd(w)}  ${l.message}\n`);
    const failed = lines.filter((l) => l.level === 'fail').length;
    const warned = lines.filter((l) => l.level === 'warn').length;
    process.stdout.write(`${failed} failed, ${warned} warnings, ${lines.length - failed - warned} ok\n`);
    return failed > 0 ? 1 : 0;
  },
};
