/**
 * The receipts commands as a user runs them (the CLI as a process) on fixture v2 logs: exit
 * codes, output formats, and the paths between them (verify, proof → verify-proof, monitor →
 * verify --checkpoint, show with filters and --follow into rotated files).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { consistencyPath, MemoryNodeSource } from '../../../receipts/tlog/merkle.js';
import { formatConsistencyAnswer } from '../../../receipts/tlog/tlog-proof.js';
import { buildV2Log, jwksOf, tmpDir, type V2LogBuilder } from '../../fixtures/receipts/v2-log.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = ['--import', 'tsx', path.join(ROOT, 'cli/main.ts')];
const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
const cliAsync = (...args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
  const c = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  c.on('close', (status) => resolve({ status, stdout, stderr }));
});

function keyFiles(b: V2LogBuilder): { vkey: string; jwks: string } {
  const dir = tmpDir('keys-');
  const vkey = path.join(dir, 'receipts.vkey');
  const jwks = path.join(dir, 'jwks.json');
  fs.writeFileSync(vkey, `${b.verifierKey}\n`);
  fs.writeFileSync(jwks, JSON.stringify(jwksOf(b.keys.publicKey)));
  return { vkey, jwks };
}

describe('egress-gate receipts verify / proof / verify-proof / monitor / show', () => {
  it('verify: 0 with the summary line, 1 with file:line: reason, 2 usage or unreadable', () => {
    const b = buildV2Log();
    const { vkey, jwks } = keyFiles(b);
    const ok = cli('receipts', 'verify', '--key', vkey, b.dir);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `ok: 23 entries, 6 checkpoints, tree size 23, root ${b.checkpoints.at(-1)!.split('\n')[2]}\n`);
    assert.equal(cli('receipts', 'verify', '--key', jwks, ...[...b.files].reverse()).status, 0, 'a JWKS, files in any order');
    const saved = path.join(tmpDir(), 'saved.checkpoint');
    fs.writeFileSync(saved, b.checkpointAt(20));
    const withSaved = cli('receipts', 'verify', '--key', vkey, '--checkpoint', saved, '--json', b.dir);
    assert.equal(withSaved.status, 0, withSaved.stdout);
    assert.deepEqual((JSON.parse(withSaved.stdout) as { saved: unknown }).saved, { size: 20, root: b.checkpointAt(20).split('\n')[2] });

    fs.writeFileSync(saved, b.checkpointAt(23));
    const last = b.files.at(-1)!;
    const lines = fs.readFileSync(last, 'utf8').split('\n');
    fs.writeFileSync(last, lines.slice(0, 6).map((l) => `${l}\n`).join(''));
    assert.equal(cli('receipts', 'verify', '--key', vkey, b.dir).status, 0, 'a cut by whole commits needs a saved checkpoint');
    const cut = cli('receipts', 'verify', '--key', vkey, '--checkpoint', saved, b.dir);
    assert.equal(cut.status, 1);
    assert.equal(cut.stdout, `${last}:6: the log ends at tree size 19, but the saved checkpoint has tree size 23: the log was cut back\n`);

    const usage = cli('receipts', 'verify', b.dir);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--key KEY is required/);
    assert.equal(cli('receipts', 'verify', '--key', vkey, tmpDir()).status, 2, 'no log file is not "intact"');
    const badKey = path.join(tmpDir(), 'k');
    fs.writeFileSync(badKey, '{"keys":[]}');
    const r = cli('receipts', 'verify', '--key', badKey, b.dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /holds no Ed25519 public key/);
  });

  it('proof --id/--seq prints a tlog-proof that verify-proof accepts (0, the entry) or refuses (1)', () => {
    const b = buildV2Log();
    const { vkey, jwks } = keyFiles(b);
    const line = fs.readFileSync(b.files[1]!, 'utf8').split('\n')[2]!;
    const entry = JSON.parse(line) as { id: string; seq: number };
    const p = cli('receipts', 'proof', '--id', entry.id, b.dir);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`^c2sp\\.org/tlog-proof@v1\\nextra \\S+\\nindex ${entry.seq}\\n`));
    assert.ok(p.stdout.endsWith(`\n\n${b.checkpoints.at(-1)}`), 'the proof ends with the newest checkpoint, verbatim');
    assert.equal(cli('receipts', 'proof', '--seq', String(entry.seq), ...b.files).stdout, p.stdout);
    const file = path.join(tmpDir(), 'p.tlog-proof');
    fs.writeFileSync(file, p.stdout);
    for (const key of [vkey, jwks]) {
      const v = cli('receipts', 'verify-proof', '--key', key, file);
      assert.equal(v.status, 0, v.stdout);
      assert.equal(v.stdout, `${line}\n`);
    }
    const hash = p.stdout.split('\n')[3]!;
    fs.writeFileSync(file, p.stdout.replace(hash, `${hash[0] === 'A' ? 'B' : 'A'}${hash.slice(1)}`));
    const bad = cli('receipts', 'verify-proof', '--key', vkey, file);
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, `${file}: the inclusion path of index ${entry.seq} does not lead to the root of the checkpoint (tree size 23)\n`);
    const unknown = cli('receipts', 'proof', '--seq', '99', b.dir);
    assert.equal(unknown.status, 1);
    assert.equal(cli('receipts', 'proof', b.dir).status, 2, 'neither --id nor --seq');
  });

  it('monitor keeps the checkpoint (0), refuses a shrunk log (1, state untouched); verify --checkpoint uses the kept state', async () => {
    const b = buildV2Log();
    const { vkey } = keyFiles(b);
    let size = 14;
    const server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const note = b.checkpointAt(size);
      if (u.pathname === '/receipts/checkpoint') return void res.end(note);
      if (u.pathname === '/receipts/consistency') return void res.end(formatConsistencyAnswer(consistencyPath(new MemoryNodeSource(b.leaves.slice(0, size)), Number(u.searchParams.get('from')), size), note));
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const state = path.join(tmpDir('state-'), 'gate.checkpoint');
      const first = await cliAsync('receipts', 'monitor', '--url', url, '--key', vkey, '--state', state);
      assert.equal(first.status, 0, first.stdout + first.stderr);
      assert.match(first.stdout, /^ok: first checkpoint kept: tree size 14, root \S+\n$/);
      size = 23;
      const second = await cliAsync('receipts', 'monitor', '--url', url, '--key', vkey, '--state', state);
      assert.equal(second.stdout, `ok: tree size 14 -> 23 is consistent; kept tree size 23, root ${b.checkpointAt(23).split('\n')[2]}\n`);
      size = 19;
      const shrunk = await cliAsync('receipts', 'monitor', '--url', url, '--key', vkey, '--state', state);
      assert.equal(shrunk.status, 1);
      assert.match(shrunk.stdout, /tree size 19 is smaller than the kept 23 .*; \S+ unchanged\n$/);
      assert.equal(fs.readFileSync(state, 'utf8'), b.checkpointAt(23));
      assert.equal(cli('receipts', 'verify', '--key', vkey, '--checkpoint', state, b.dir).status, 0);
      const gone = await cliAsync('receipts', 'monitor', '--url', 'http://127.0.0.1:1', '--key', vkey, '--state', state);
      assert.equal(gone.status, 2);
      assert.match(gone.stderr, /cannot fetch/);
    } finally {
      server.close();
    }
  });

  it('show: entries verbatim as json (no checkpoint lines), filters, --tail, pretty lines', () => {
    const b = buildV2Log();
    const entryLines = b.files.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n')).filter((l) => l.startsWith('{"v"'));
    const all = cli('receipts', 'show', b.dir);
    assert.equal(all.status, 0, all.stderr);
    assert.equal(all.stdout, entryLines.map((l) => `${l}\n`).join(''), 'json (stdout not a TTY): every entry verbatim, checkpoints left out');
    const parse = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const denies = parse(cli('receipts', 'show', '--decision', 'DENY', b.dir).stdout);
    assert.ok(denies.length > 0 && denies.every((e) => e.kind === 'decision' && e.decision === 'DENY'));
    const pay = parse(cli('receipts', 'show', '--surface', 'payments', '--tail', '2', b.dir).stdout);
    const allPay = parse(all.stdout).filter((e) => e.surface === 'payments');
    assert.deepEqual(pay, allPay.slice(-2));
    const since = parse(cli('receipts', 'show', '--since', '2025-06-01T12:00:20Z', b.dir).stdout);
    assert.deepEqual(since.map((e) => e.seq), [19, 20, 21, 22]);
    const pretty = cli('receipts', 'show', '--format', 'pretty', '--tail', '1', '--decision', 'PERMIT', b.dir);
    assert.match(pretty.stdout, /^2025-06-01T12:00:22\.000Z #21 decision  PERMIT NO_PERMIT_REQUIRED GET https:\/\/api\.example\/v1\/items payments\/read [0-9a-f-]{36}\n$/);
    fs.appendFileSync(b.files[0]!, 'garbage\n');
    const g = parse(cli('receipts', 'show', '--tail', '0', b.files[0]!).stdout);
    assert.deepEqual(g, [{ file: b.files[0], line: 11, error: 'not a JSON line (neither an entry nor a checkpoint line)' }], 'a bad line is shown whatever the filters');
    assert.equal(cli('receipts', 'show', '--since', 'yesterday', b.dir).status, 2);
  });

  it('show --follow --tail prints the last entries, then new ones, into rotated files', async () => {
    const b = buildV2Log({ files: 1, commitsPerFile: 1 });
    const child = spawn(process.execPath, [...CLI, 'receipts', 'show', '--follow', '--tail', '2', b.dir], { cwd: ROOT });
    const seen: Record<string, unknown>[] = [];
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) seen.push(JSON.parse(p) as Record<string, unknown>);
    });
    const waitFor = (n: number) => new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`saw ${seen.length} entries, waited for ${n}`)), 10_000);
      const check = () => { if (seen.length >= n) { clearTimeout(t); child.stdout.off('data', check); resolve(); } };
      child.stdout.on('data', check);
      check();
    });
    try {
      await waitFor(2);
      assert.deepEqual(seen.map((e) => e.seq), [1, 2]);
      b.rotate();
      b.entry('lifecycle', { event: 'policy' });
      b.entry('lifecycle', { event: 'policy' });
      b.commit();
      assert.equal(b.files.length, 2, 'rotated');
      await waitFor(4);
      assert.deepEqual(seen.map((e) => e.seq), [1, 2, 3, 4]);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await new Promise<[number | null]>((r) => child.on('exit', (c) => r([c])));
    assert.equal(code, 0, 'SIGTERM ends --follow cleanly');
  });
});
