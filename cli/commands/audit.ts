/**
 * `egress-gate audit --gate PATH --gate-key KEY --arbiter PATH --arbiter-key KEY` (SPEC §2):
 * every permit the gate accepted (decision entries with reason PERMIT_VALID, by the token's
 * sha256) must appear in the arbiter's issuance log. Exit 0 all accounted for, 1 otherwise,
 * naming each unaccounted permit; issued permits never used are listed for information.
 *
 * Both logs are verified first with their keys, as `receipts verify` does (entries,
 * checkpoints, nothing unsealed): an audit over a log that does not verify proves nothing, so
 * it exits 1 naming the first bad line.
 */
import { parseArgs } from 'node:util';
import { readIssuance } from '../../arbiter/issuance-log.js';
import { loadLogKey, LogKeyError } from '../../receipts/log-key.js';
import { ReceiptLog } from '../../receipts/receipt-log.js';
import { verifyReceiptLog } from '../../receipts/verify-log.js';
import { RuntimeError, UsageError, type Command } from './command.js';

interface Used { sha256: string; jti: string | null; iss: string | null; receipt: string }

/** The permits a gate's log says it accepted. The one place the gate's log is read here. */
async function acceptedPermits(dir: string): Promise<Used[]> {
  const out: Used[] = [];
  for await (const p of ReceiptLog.readAll(dir)) {
    const permit = p.permit as { sha256?: string; jti?: string; iss?: string } | undefined;
    if (p.kind === 'decision' && p.reason === 'PERMIT_VALID' && typeof permit?.sha256 === 'string') {
      out.push({ sha256: permit.sha256, jti: permit.jti ?? null, iss: permit.iss ?? null, receipt: String(p.id) });
    }
  }
  return out;
}

async function issuedPermits(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of readIssuance(dir)) {
    const permit = e.permit as { sha256?: string; jti?: string } | undefined;
    if (e.decision === 'PERMIT' && typeof permit?.sha256 === 'string') out.set(permit.sha256, permit.jti ?? '');
  }
  return out;
}

export const command: Command = {
  name: 'audit',
  summary: 'check that every permit a gate accepted was issued and logged by the arbiter',
  usage: `usage: egress-gate audit --gate PATH --gate-key KEY --arbiter PATH --arbiter-key KEY [--json]
  PATH: a receipts folder. KEY: the log's verifier key (admin /receipts/key) or its JWKS.
  Both logs are verified first (as receipts verify does); a log that does not verify exits 1.
  Exit 0 when every permit the gate accepted is in the arbiter's issuance log, 1 otherwise.`,
  async run(argv) {
    const { values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: {
      gate: { type: 'string' }, 'gate-key': { type: 'string' }, arbiter: { type: 'string' }, 'arbiter-key': { type: 'string' }, json: { type: 'boolean' },
    } });
    if (!values.gate || !values.arbiter || !values['gate-key'] || !values['arbiter-key']) throw new UsageError('--gate, --gate-key, --arbiter and --arbiter-key are required');
    for (const [what, dir, keyFile] of [['gate', values.gate, values['gate-key']], ['arbiter', values.arbiter, values['arbiter-key']]] as const) {
      let key;
      try { key = await loadLogKey(keyFile); } catch (e) { if (e instanceof LogKeyError) throw new RuntimeError(e.message); throw e; }
      const v = await verifyReceiptLog([dir], key);
      if (!v.ok) {
        process.stdout.write(`FAILED: the ${what} log does not verify: ${v.file}:${v.line}: ${v.reason}\n`);
        return 1;
      }
    }
    const used = await acceptedPermits(values.gate);
    const issued = await issuedPermits(values.arbiter);
    const unaccounted = used.filter((u) => !issued.has(u.sha256));
    const usedSet = new Set(used.map((u) => u.sha256));
    const unused = [...issued].filter(([sha]) => !usedSet.has(sha)).map(([sha256, jti]) => ({ sha256, jti }));
    if (values.json) process.stdout.write(`${JSON.stringify({ accepted: used.length, issued: issued.size, unaccounted, unused })}\n`);
    else {
      for (const u of unaccounted) process.stdout.write(`NOT ISSUED: permit jti ${u.jti} (sha256 ${u.sha256}, iss ${u.iss}) accepted by the gate in receipt ${u.receipt}\n`);
      for (const u of unused) process.stdout.write(`issued, never used: jti ${u.jti}\n`);
      process.stdout.write(`${unaccounted.length === 0 ? 'ok' : 'FAILED'}: ${used.length} accepted permits, ${issued.size} issued, ${unaccounted.length} not issued by the arbiter\n`);
    }
    return unaccounted.length === 0 ? 0 : 1;
  },
};
