/**
 * A log-linear latency histogram in microseconds (HDR-like: exact below 128 µs, then 64
 * sub-buckets per power of two, so any percentile is within ~1.6 %). Small, mergeable
 * across processes as a sparse {index: count} record.
 */
const LINEAR = 128;
const SUB = 64;

function indexOf(us: number): number {
  const v = Math.max(0, Math.floor(us));
  if (v < LINEAR) return v;
  const e = 31 - Math.clz32(v); // floor(log2 v) >= 7
  return LINEAR + (e - 7) * SUB + ((v >>> (e - 6)) & (SUB - 1));
}

function valueOf(i: number): number {
  if (i < LINEAR) return i;
  const e = Math.floor((i - LINEAR) / SUB) + 7;
  const sub = (i - LINEAR) % SUB;
  return (SUB + sub) * 2 ** (e - 6);
}

export class Histogram {
  readonly counts = new Map<number, number>();
  total = 0;

  record(us: number): void {
    const i = indexOf(us);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
    this.total++;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  static fromJSON(...parts: Record<string, number>[]): Histogram {
    const h = new Histogram();
    for (const p of parts) for (const [k, n] of Object.entries(p)) { h.counts.set(Number(k), (h.counts.get(Number(k)) ?? 0) + n); h.total += n; }
    return h;
  }

  /** The value (µs) at percentile p (0..100); 0 when empty. */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (const i of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(i)!;
      if (seen >= rank) return valueOf(i);
    }
    return valueOf(Math.max(...this.counts.keys()));
  }
}
