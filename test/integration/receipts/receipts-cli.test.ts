import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { logLines, newSigner, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = ['--import', 'tsx', path.join(ROOT, 'cli/main.ts')];
const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });

async function writeLog(n: number, rotateBytes = 1700) {
  const signer = newSigner('rk-cli');
  const dir = tmpDir('cli-');
  const log = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes, gate: 'g' });
  for (let i = 0; i < n; i++) await log.append({ kind: 'decision', i });
  const head = log.head();
  const keyFile = path.join(tmpDir(), 'jwks.json');
  fs.writeFileSync(keyFile, JSON.stringify({ keys: [signer.publicJwk] }));
  const headFile = path.join(tmpDir(), 'head.jws');
  fs.writeFileSync(headFile, head);
  return { signer, dir, log, keyFile, headFile };
}

describe('egress-gate receipts verify / show', () => {
  it('verify: 0 intact (folder or files), 1 with file:line: reason, 2 usage', async () => {
    const { dir, log, keyFile, headFile } = await writeLog(10);
    await log.close();
    const ok = cli('receipts', 'verify', '--key', keyFile, '--head', headFile, dir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 10 receipts in 3 file\(s\), seq 0\.\.9/);
    const files = logLines(dir).map((f) => f.file);
    assert.equal(cli('receipts', 'verify', '--key', keyFile, ...[...files].reverse()).status, 0);

    const last = files.at(-1)!;
    const lines = fs.readFileSync(last, 'utf8').split('\n');
    lines.splice(lines.length - 2, 1);
    fs.writeFileSync(last, lines.join('\n'));
    assert.equal(cli('receipts', 'verify', '--key', keyFile, dir).status, 0, 'a cut tail needs the head');
    const cut = cli('receipts', 'verify', '--key', keyFile, '--head', headFile, dir);
    assert.equal(cut.status, 1);
    assert.equal(cut.stdout, `${last}:2: log ends at seq 8 but the head names seq 9 (lines were cut from the end)\n`);

    const usage = cli('receipts', 'verify', dir);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--key JWKSFILE is required/);
    assert.equal(cli('receipts', 'verify', '--key', keyFile, tmpDir()).status, 2, 'no log file is not "intact"');
  });

  it('show --follow prints existing receipts, then new ones, into rotated files', async () => {
    const { dir, log } = await writeLog(3, 1200);
    const child = spawn(process.execPath, [...CLI, 'receipts', 'show', '--follow', dir], { cwd: ROOT });
    const seen: Record<string, unknown>[] = [];
    let buf = '';
    const waitFor = (n: number) => new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`saw ${seen.length} receipts, waited for ${n}`)), 10_000);
      const check = () => { if (seen.length >= n) { clearTimeout(t); resolve(); } };
      child.stdout.on('data', check);
      check();
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) seen.push(JSON.parse(p) as Record<string, unknown>);
    });
    try {
      await waitFor(3);
      const filesBefore = fs.readdirSync(dir).length;
      for (let i = 3; i < 9; i++) await log.append({ kind: 'outcome', i });
      await log.close();
      assert.ok(fs.readdirSync(dir).length > filesBefore, 'the appends rotated');
      await waitFor(9);
      assert.deepEqual(seen.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual([seen[0]!.kid, seen[0]!.typ, seen[0]!.kind, seen[8]!.kind, seen[8]!.i], ['rk-cli', 'receipt+jwt', 'decision', 'outcome', 8]);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await new Promise<[number | null]>((r) => child.on('exit', (c) => r([c])));
    assert.equal(code, 0, 'SIGTERM ends --follow cleanly');
  });

  it('show without --follow reports an undecodable line as {file, line, error}', async () => {
    const { dir, log } = await writeLog(2);
    await log.close();
    fs.appendFileSync(path.join(dir, 'receipts-000000000000.jsonl'), 'garbage\n');
    const r = cli('receipts', 'show', dir);
    assert.equal(r.status, 0);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(out.length, 3);
    assert.deepEqual(out[2], { file: path.join(dir, 'receipts-000000000000.jsonl'), line: 3, error: 'not a compact JWS' });
  });
});
