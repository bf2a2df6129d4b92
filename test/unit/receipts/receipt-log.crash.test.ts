import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createReceiptSigner } from '../../../receipts/receipt-codec.js';
import { ReceiptLog } from '../../../receipts/receipt-log.js';
import { checkV2Log, newPrivateJwk, tmpDir } from '../../fixtures/receipts/receipt-fixtures.js';

const CHILD = fileURLToPath(new URL('../../fixtures/receipts/append-child.ts', import.meta.url));

describe('receipt-log crash safety', () => {
  it('every append that resolved before kill -9 is in a checkpointed tree; the log reopens and verifies', async () => {
    const dir = tmpDir();
    const jwk = newPrivateJwk('rk-crash');
    const signer = createReceiptSigner(jwk);
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, JSON.stringify(jwk)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let maxResolved = -1;
    let buf = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: string) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) maxResolved = Math.max(maxResolved, Number(p));
        if (maxResolved >= 300) resolve();
      });
    });
    child.kill('SIGKILL');
    await once(child, 'exit');

    const log = await ReceiptLog.open({ dir, signer, durability: 'fsync', rotateBytes: 16 * 1024, gate: 'g' });
    const reopenedAt = log.lastSeq;
    await log.append({ kind: 'lifecycle', event: 'start' });
    await log.close();
    assert.ok(reopenedAt >= maxResolved, `seq ${maxResolved} was acknowledged but the log ends at ${reopenedAt}`);
    const { entries } = checkV2Log(dir, log.verifierKey);
    assert.ok(entries.length >= maxResolved + 1);
    assert.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length > 1, 'the run rotated');
  });
});
