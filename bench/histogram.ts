/**
 * A latency histogram in microseconds that can cross a process boundary (plain JSON) and be merged:
 * 1 µs buckets below 1 ms, then logarithmic buckets 0.1% wide, up to 60 s.
 */
export class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  total = 0;
  max = 0;

  record(micros: number): void {
    const us = Math.max(1, Math.round(micros));
    const bucket = us < 1000 ? us : 1000 + Math.floor(Math.log10(us / 1000) * 2300);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total += 1;
    if (us > this.max) this.max = us;
  }

  merge(other: LatencyHistogram): void {
    for (const [bucket, count] of other.counts)
      this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + count);
    this.total += other.total;
    this.max = Math.max(this.max, other.max);
  }

  /** The latency (ms) under which `p` percent of the samples fall; 0 when empty. */
  percentileMs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(bucket) ?? 0;
      if (seen >= rank) return Math.min(bucketMicros(bucket), this.max) / 1000;
    }
    return this.max / 1000;
  }

  toJSON(): { counts: [number, number][]; total: number; max: number } {
    return { counts: [...this.counts], total: this.total, max: this.max };
  }

  static fromJSON(data: { counts: [number, number][]; total: number; max: number }): LatencyHistogram {
    const histogram = new LatencyHistogram();
    for (const [bucket, count] of data.counts) histogram.counts.set(bucket, count);
    histogram.total = data.total;
    histogram.max = data.max;
    return histogram;
  }
}

/** The upper bound of a bucket, in microseconds. */
function bucketMicros(bucket: number): number {
  return bucket < 1000 ? bucket : 1000 * 10 ** ((bucket - 1000 + 1) / 2300);
}
