import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUuidV7 } from '../../../receipts/uuid-v7.js';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuid-v7', () => {
  it('has version 7, variant 10 and the clock in its first 48 bits', () => {
    const gen = createUuidV7(() => 0x0123456789ab);
    const id = gen();
    assert.match(id, UUIDV7);
    assert.equal(id.slice(0, 13).replace('-', ''), '0123456789ab');
  });

  it('is strictly increasing within one millisecond and when the clock steps back', () => {
    let now = 1_700_000_000_000;
    const gen = createUuidV7(() => now);
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i === 5000) now -= 10;
      ids.push(gen());
    }
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i]! > ids[i - 1]!, `id ${i} not after id ${i - 1}`);
    assert.equal(new Set(ids).size, ids.length);
    ids.forEach((id) => assert.match(id, UUIDV7));
  });
});
