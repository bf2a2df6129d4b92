/** writeFileAtomic: the whole new content or the old, with the mode asked for, and no temp file left behind. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../../certs/write-file-atomic.js';
import { tmpDir } from '../../kit/keys.js';

const listing = (dir: string) => fs.readdirSync(dir).sort();

describe('writeFileAtomic', () => {
  it('writes the file with the mode asked for, and replaces an existing one whole', async () => {
    const dir = tmpDir('eg-atomic-');
    const p = path.join(dir, 'key.pem');
    await writeFileAtomic(p, 'first', 0o600);
    assert.equal(fs.readFileSync(p, 'utf8'), 'first');
    assert.equal(fs.statSync(p).mode & 0o777, 0o600);
    await writeFileAtomic(p, 'second', 0o644);
    assert.equal(fs.readFileSync(p, 'utf8'), 'second');
    assert.equal(fs.statSync(p).mode & 0o777, 0o644);
    assert.deepEqual(listing(dir), ['key.pem']);
  });

  it('a rename that fails (a folder under the name) leaves the folder as it was and no temp file', async () => {
    const dir = tmpDir('eg-atomic-');
    const p = path.join(dir, 'bundle.pem');
    fs.mkdirSync(p);
    fs.writeFileSync(path.join(p, 'inside'), 'x');
    await assert.rejects(writeFileAtomic(p, 'bundle', 0o644), /EISDIR|ENOTEMPTY|EEXIST/);
    assert.deepEqual(listing(dir), ['bundle.pem']);
    assert.deepEqual(listing(p), ['inside']);
  });

  it('a folder that cannot be written: rejected, nothing created', async () => {
    await assert.rejects(writeFileAtomic(path.join(tmpDir('eg-atomic-'), 'missing', 'f'), 'x', 0o644), /ENOENT/);
  });
});
