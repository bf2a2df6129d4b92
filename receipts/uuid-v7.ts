/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, version 7, then 74 random bits. Receipt ids
 * are UUIDv7 so they sort by creation time.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 16 * 256;

/**
 * A UUIDv7 generator. Within one millisecond (or when the clock steps back) ids stay strictly
 * increasing: the 12-bit `rand_a` field is used as a counter (RFC 9562 §6.2, method 1) seeded
 * randomly each new millisecond; when it overflows the timestamp is advanced by 1 ms, so the
 * embedded time may run ahead of the clock by at most the overflow count.
 */
export function createUuidV7(clock: () => number = Date.now): () => string {
  const pool = Buffer.alloc(POOL_SIZE);
  let poolPos = POOL_SIZE;
  let lastMs = -1;
  let counter = 0;

  const random = (n: number): Buffer => {
    if (poolPos + n > POOL_SIZE) {
      randomFillSync(pool);
      poolPos = 0;
    }
    const out = pool.subarray(poolPos, poolPos + n);
    poolPos += n;
    return out;
  };

  return function uuidV7(): string {
    let ms = Math.floor(clock());
    if (ms > lastMs) {
      lastMs = ms;
      // Seed below 2^11 so a burst has at least 2048 ids before the counter overflows.
      counter = random(2).readUInt16BE(0) & 0x7ff;
    } else {
      counter++;
      if (counter > 0xfff) {
        lastMs++;
        counter = 0;
      }
      ms = lastMs;
    }
    const b = Buffer.alloc(16);
    b.writeUIntBE(ms, 0, 6);
    b[6] = 0x70 | (counter >> 8);
    b[7] = counter & 0xff;
    random(8).copy(b, 8);
    b[8] = 0x80 | (b[8]! & 0x3f);
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}

/** A process-wide UUIDv7 generator on the system clock. */
export const uuidV7: () => string = createUuidV7();
