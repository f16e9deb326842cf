/**
 * A latency histogram that several processes fill and one merges: plain counts in fixed
 * buckets, so it crosses IPC as an array and adds up by index.
 *
 * Values are whole microseconds. Below 1,024 µs every value has its own bucket; above, each
 * power of two is split into 64 buckets, so a percentile is off by at most 1/64 (1.6 %).
 */
const EXACT = 1024;
const SUB_BUCKETS = 64;
const EXACT_BITS = 10; // log2(EXACT)
const SUB_BITS = 6; // log2(SUB_BUCKETS)
/** Up to 2^40 µs (12 days): far past any time cap. */
const MAX_BITS = 40;
export const BUCKETS = EXACT + (MAX_BITS - EXACT_BITS) * SUB_BUCKETS;

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  max = 0;

  constructor(counts?: ArrayLike<number>, max = 0) {
    this.counts = new Float64Array(BUCKETS);
    if (counts !== undefined) {
      this.counts.set(counts);
      for (let i = 0; i < counts.length; i++) this.count += counts[i]!;
    }
    this.max = max;
  }

  record(us: number): void {
    const value = us < 0 ? 0 : Math.floor(us);
    this.counts[bucketOf(value)]! += 1;
    this.count++;
    if (value > this.max) this.max = value;
  }

  merge(other: { counts: ArrayLike<number>; max: number }): void {
    for (let i = 0; i < BUCKETS; i++) {
      const n = other.counts[i]!;
      this.counts[i]! += n;
      this.count += n;
    }
    if (other.max > this.max) this.max = other.max;
  }

  /** The value below which `p` percent of the samples fall (the bucket's upper edge). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperEdgeOf(i), this.max);
    }
    return this.max;
  }

  /** Plain data for IPC. */
  toJSON(): { counts: number[]; max: number } {
    return { counts: Array.from(this.counts), max: this.max };
  }
}

function bucketOf(value: number): number {
  if (value < EXACT) return value;
  const bits = Math.min(MAX_BITS - 1, Math.floor(Math.log2(value)));
  const sub = Math.floor(value / 2 ** (bits - SUB_BITS)) - SUB_BUCKETS;
  return EXACT + (bits - EXACT_BITS) * SUB_BUCKETS + Math.min(SUB_BUCKETS - 1, sub);
}

function upperEdgeOf(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const bits = EXACT_BITS + Math.floor((bucket - EXACT) / SUB_BUCKETS);
  const sub = (bucket - EXACT) % SUB_BUCKETS;
  return (SUB_BUCKETS + sub + 1) * 2 ** (bits - SUB_BITS) - 1;
}
