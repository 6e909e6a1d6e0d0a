/**
 * Exponential backoff with full jitter for re-listing a kind after a failure: the first retry comes
 * soon (an API server restart is usually over in seconds), later ones spread out so that many
 * replicas do not hammer a struggling API server in step.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly initialMs = 250,
    private readonly maxMs = 30_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Half fixed, half random: never 0, never more than the ceiling.
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** After a success: the next failure starts from the initial delay again. */
  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
