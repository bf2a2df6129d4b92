/**
 * The arbiter's development default (SPEC §2): `egress-gate arbiter start` with no config and
 * no ./arbiter.yaml keeps its state in ./.egress-gate/arbiter/ — its permit key, receipt key,
 * receipts, a caller token (`caller.token`, subject agent:dev) and an approver token
 * (`approver.token`) — and grants agent:dev the example route maps' demo notes.create (auto)
 * and payments charge.create (human). The development gate trusts its key (dev-default.ts).
 * Like the gate's, it writes an ordinary config and loads that.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { examplesDir } from '../policy/examples-dir.js';
import { generateKeyFiles } from '../policy/permits/generate-keys.js';
import { tokenDigest } from '../arbiter/callers.js';

export const DEV_ARBITER_ISS = 'http://127.0.0.1:8181';
export const DEV_ARBITER_LISTEN = '127.0.0.1:8181';

export interface ArbiterDevState {
  dir: string;
  configPath: string;
  callerToken: string;
  approverToken: string;
  jwksPath: string;
}

/** The arbiter's keys in `<cwd>/.egress-gate/arbiter/keys/`, created once; the gate's dev default calls this too. */
export async function ensureArbiterDevKeys(cwd: string): Promise<{ dir: string; jwksPath: string }> {
  const dir = path.join(cwd, '.egress-gate', 'arbiter');
  const permitDir = path.join(dir, 'keys', 'permits');
  if (!existsSync(path.join(permitDir, 'private.jwk.json'))) await generateKeyFiles(permitDir, { alg: 'EdDSA', kid: `arbiter-${Date.now().toString(36)}` });
  const receiptDir = path.join(dir, 'keys', 'receipts');
  if (!existsSync(path.join(receiptDir, 'private.jwk.json'))) await generateKeyFiles(receiptDir, { alg: 'EdDSA', kid: `arbiter-receipts-${Date.now().toString(36)}` });
  return { dir, jwksPath: path.join(permitDir, 'jwks.json') };
}

async function token(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  // Hex, not base64url: a token that starts with '-' reads as an option to `--token TOKEN`
  // (node:util parseArgs refuses it), one start in 64.
  const t = randomBytes(24).toString('hex');
  await writeFile(file, `${t}\n`, { mode: 0o600 });
  return t;
}

export async function prepareArbiterDevDefault(cwd: string): Promise<ArbiterDevState> {
  const { dir, jwksPath } = await ensureArbiterDevKeys(cwd);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const callerToken = await token(path.join(dir, 'caller.token'));
  const approverToken = await token(path.join(dir, 'approver.token'));
  const configPath = path.join(dir, 'arbiter.yaml');
  await writeFile(configPath, `# Written by \`egress-gate arbiter start\` (development default). Edit freely, or pass --config.
arbiter:
  iss: ${DEV_ARBITER_ISS}
  listen: ${DEV_ARBITER_LISTEN}
  key: ./keys/permits/private.jwk.json
  ttl: 60s
policy:
  routes: ["${examplesDir().replace(/\\/g, '/')}"]
callers:
  - subject: agent:dev
    token_sha256: ${tokenDigest(callerToken)}   # caller.token
approvers:
  - name: dev-approver
    token_sha256: ${tokenDigest(approverToken)}   # approver.token
grants:
  - subject: agent:dev
    surface: demo
    action: notes.create
    gates: [dev-gate]
    approve: auto
    rate: 60/1h
  - subject: agent:dev
    surface: payments
    action: charge.create
    gates: [dev-gate]
    approve: human
    approvals: 1
pending: { max_wait: 15m }
break_glass: { approvals: 1, max_ttl: 1h }
receipts: { dir: ./receipts, key: ./keys/receipts/private.jwk.json, durability: fsync }
`, { mode: 0o600 });
  return { dir, configPath, callerToken, approverToken, jwksPath };
}

export function arbiterDevBanner(s: ArbiterDevState): string {
  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  return [
    `egress-gate arbiter (development default) — state in ${rel(s.dir)}/`,
    `  listening on http://${DEV_ARBITER_LISTEN}  (POST /v1/permits, /ui approvals page, /.well-known/jwks.json)`,
    `  caller token (agent:dev): ${rel(path.join(s.dir, 'caller.token'))}   approver token: ${rel(path.join(s.dir, 'approver.token'))}`,
    '',
  ].join('\n');
}
