// Latencies are kept whole (bounded runs keep them to a few million numbers),
// so percentiles are exact rather than bucketed.

export class Samples {
  constructor(initial = 1 << 16) {
    this.buf = new Float64Array(initial);
    this.n = 0;
  }

  add(v) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }

  values() {
    return this.buf.subarray(0, this.n);
  }
}

/** Nearest-rank percentiles of a set of samples (milliseconds). */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const at = (p) =>
    n === 0 ? Number.NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  return { count: n, p50: at(50), p90: at(90), p99: at(99), max: n === 0 ? Number.NaN : sorted[n - 1] };
}

export function mergeCounts(into, from) {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}
