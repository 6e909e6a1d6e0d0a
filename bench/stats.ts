/** Latency samples in nanoseconds, summarised as benchmarks report them. */
export interface Summary {
  median: number;
  p99: number;
  mean: number;
  samples: number;
}

export function summarise(samples: bigint[] | number[]): Summary {
  const sorted = Array.from(samples, Number).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { median: at(0.5), p99: at(0.99), mean: sorted.reduce((s, v) => s + v, 0) / sorted.length, samples: sorted.length };
}

/** Times fn once per iteration after a warm-up, so the JIT has settled. */
export function measure(fn: () => unknown, iterations: number, warmup = Math.min(2000, iterations)): Summary {
  for (let i = 0; i < warmup; i++) fn();
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
