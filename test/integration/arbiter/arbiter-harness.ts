/**
 * The arbiter as a real process (the built bin) beside a gate from ../harness.ts: the
 * arbiter signs with the gate workspace's issuer key, so the gate trusts it as `ISS`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BIN, cleanEnv, freePort, genKey, ISS } from '../harness.js';

export const digest = (t: string): string => crypto.createHash('sha256').update(t).digest('base64url');

export interface ArbiterWorkspace {
  dir: string;
  configPath: string;
  port: number;
  url: string;
  receiptsDir: string;
  receiptKeyPath: string;
  tokens: Record<string, string>;
}

export async function arbiterWorkspace(o: { dir: string; issuerKeyPath: string; routesDir: string; config?: (c: Record<string, any>) => void }): Promise<ArbiterWorkspace> {
  const dir = path.join(o.dir, 'arbiter');
  fs.mkdirSync(path.join(dir, 'keys'), { recursive: true });
  const port = await freePort();
  const rk = genKey('EdDSA', 'arbiter-receipts');
  const receiptKeyPath = path.join(dir, 'keys', 'receipts.private.jwk.json');
  fs.writeFileSync(receiptKeyPath, JSON.stringify(rk.privateJwk), { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'keys', 'receipts.jwks.json'), JSON.stringify({ keys: [rk.publicJwk] }));
  const tokens: Record<string, string> = {};
  for (const n of ['agent', 'other', 'alice', 'bob', 'selfish']) tokens[n] = crypto.randomBytes(18).toString('hex'); // never a leading '-', which `--token X` would read as an option
  const config: Record<string, any> = {
    arbiter: { iss: ISS, listen: `127.0.0.1:${port}`, key: o.issuerKeyPath, ttl: '60s' },
    policy: { routes: [o.routesDir] },
    callers: [
      { subject: 'agent:it', token_sha256: digest(tokens.agent as string) },
      { subject: 'agent:other', token_sha256: digest(tokens.other as string) },
      { subject: 'selfish', token_sha256: digest(tokens.selfish as string) },
    ],
    approvers: [
      { name: 'alice', token_sha256: digest(tokens.alice as string) },
      { name: 'bob', token_sha256: digest(tokens.bob as string) },
      { name: 'selfish', token_sha256: digest(tokens.selfish as string) },
    ],
    grants: [],
    pending: { max_wait: '15m' },
    break_glass: { approvals: 2, max_ttl: '1h' },
    receipts: { dir: './receipts', key: './keys/receipts.private.jwk.json', durability: 'fsync' },
  };
  o.config?.(config);
  const configPath = path.join(dir, 'arbiter.yaml');
  fs.writeFileSync(configPath, stringify(config));
  return { dir, configPath, port, url: `http://127.0.0.1:${port}`, receiptsDir: path.join(dir, 'receipts'), receiptKeyPath, tokens };
}

export interface ArbiterProcess {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** Starts the built bin on `ws`; `env` adds variables (NODE_EXTRA_CA_CERTS for a test CA). Resolves once /healthz answers. */
export async function startArbiterProcess(ws: ArbiterWorkspace, env: Record<string, string> = {}): Promise<ArbiterProcess> {
  const proc = spawn(process.execPath, [BIN, 'arbiter', 'start', '--config', ws.configPath], { cwd: ws.dir, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  proc.stdout!.on('data', (d) => chunks.push(String(d)));
  proc.stderr!.on('data', (d) => chunks.push(String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`arbiter exited at start: ${chunks.join('')}`);
    try { if ((await fetch(`${ws.url}/healthz`)).status === 200) break; } catch { /* not yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`arbiter not up: ${chunks.join('')}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, output: () => chunks.join(''), stop: async () => { if (proc.exitCode === null) proc.kill('SIGTERM'); return exited; } };
}

export async function api(ws: ArbiterWorkspace, token: string | undefined, method: string, p: string, body?: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${ws.url}${p}`, {
    method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any; try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, json };
}
