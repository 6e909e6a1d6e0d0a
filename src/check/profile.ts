/**
 * Phase timings for `VIRTGUARD_PROFILE=1`: where a check spends its time (reading, parsing YAML,
 * compiling schemas, evaluating), printed on stderr so that reports stay clean.
 */
export class Profile {
  private readonly phases = new Map<string, number>();
  private readonly started = performance.now();

  constructor(readonly enabled: boolean) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): Profile {
    return new Profile(env.VIRTGUARD_PROFILE === "1" || env.VIRTGUARD_PROFILE === "true");
  }

  /** Runs fn and adds its duration to the phase (phases may be entered several times). */
  phase<T>(name: string, fn: () => T): T {
    if (!this.enabled) return fn();
    const t = performance.now();
    try {
      return fn();
    } finally {
      this.phases.set(name, (this.phases.get(name) ?? 0) + performance.now() - t);
    }
  }

  /** Awaits fn and adds the time until it settles to the phase. */
  async phaseAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.enabled) return fn();
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.record(name, performance.now() - t);
    }
  }

  /** Adds a duration measured elsewhere (in a worker thread). */
  record(name: string, ms: number): void {
    if (this.enabled) this.phases.set(name, (this.phases.get(name) ?? 0) + ms);
  }

  /** Milliseconds per phase, in the order phases first ran. */
  timings(): Record<string, number> {
    return Object.fromEntries([...this.phases].map(([k, v]) => [k, Math.round(v * 10) / 10]));
  }

  /**
   * One line: `profile: total 812ms (since process start 905ms); read 3ms 0%, parse 420ms 52%, …`.
   * The total counts from the profile's creation; the process figure includes Node's start-up and imports.
   * A phase run in a worker overlaps the others: then the shares add up to more than 100%.
   */
  line(): string {
    const total = performance.now() - this.started;
    const parts = [...this.phases].map(([name, ms]) => `${name} ${Math.round(ms)}ms ${Math.round((100 * ms) / total)}%`);
    return `profile: total ${Math.round(total)}ms (since process start ${Math.round(performance.now())}ms); ${parts.join(", ")}`;
  }
}
