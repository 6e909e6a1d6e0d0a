import { quantile } from "../test/support/quantile.js";

/** Latency samples in nanoseconds, summarised as benchmarks report them. */
export interface Summary {
  median: number;
  p99: number;
  mean: number;
  samples: number;
}

export function summarise(samples: bigint[] | number[]): Summary {
  const sorted = Array.from(samples, Number).sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean: sorted.reduce((s, v) => s + v, 0) / sorted.length, samples: sorted.length };
}

/**
 * Runs fn at least `iterations` times and for at least `ms` milliseconds: the optimising compiler
 * works on a background thread, and on a busy 2-core machine a few thousand calls can end before
 * its code is in, which left medians flipping between two values from run to run.
 */
function warm(fn: () => unknown, iterations: number, ms = 500): void {
  const until = performance.now() + ms;
  for (let i = 0; i < iterations || performance.now() < until; i++) fn();
}

/** Times fn once per iteration after a warm-up, so the JIT has settled. */
export function measure(fn: () => unknown, iterations: number, warmup = Math.min(2000, iterations)): Summary {
  warm(fn, warmup);
  const samples = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - t0);
  }
  return summarise(samples);
}

export function micros(ns: number): string {
  return (ns / 1000).toFixed(1);
}

/**
 * Times a and b alternately, one call each per iteration, so that both medians come from the same
 * moments of a shared machine: their ratio is what a benchmark target compares.
 */
export function measurePair(a: () => unknown, b: () => unknown, iterations: number, warmup = Math.min(2000, iterations)): [Summary, Summary] {
  warm(a, warmup);
  warm(b, warmup);
  const sa = new Array<number>(iterations);
  const sb = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    a();
    const t1 = process.hrtime.bigint();
    b();
    sb[i] = Number(process.hrtime.bigint() - t1);
    sa[i] = Number(t1 - t0);
  }
  return [summarise(sa), summarise(sb)];
}
