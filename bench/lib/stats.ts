// Summaries of repeated measurements: every figure the bench reports is the median of several
// runs, with the smallest and largest beside it.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** how many runs the summary is over */
  runs: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function sortedCopy(xs: readonly number[]): number[] {
  return Float64Array.from(xs).sort() as unknown as number[];
}

export function median(xs: readonly number[]): number {
  return quantile(sortedCopy(xs), 0.5);
}

export function summarize(xs: readonly number[]): Summary {
  const s = sortedCopy(xs);
  return { median: quantile(s, 0.5), min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, runs: s.length };
}

/** Rounds for JSON: keeps three significant decimals of small numbers, whole numbers of large. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}

export function roundSummary(s: Summary, digits = 3): Summary {
  return { median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits), runs: s.runs };
}

/** "12.3 (11.9–13.0)": median with the range of the runs. */
export function fmt(s: Summary, digits = 1): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Fisher–Yates shuffle with a seeded generator, in place. */
export function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** mulberry32: a small seeded PRNG so every run draws the same flows. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
