/**
 * The per-request evaluation budget: cost units (in the spirit of Kubernetes' CEL runtime cost,
 * one unit per list element visited, per string byte compared, per call) and a wall-clock
 * deadline. Compiled expressions charge it inside their loops, so no single expression can hold
 * the event loop past the deadline; the evaluator charges it between policies.
 *
 * Contract shared by the CEL compiler (which calls `charge`) and the evaluator (which creates one
 * budget per request and decides what a trip means through the policy's failurePolicy).
 */
export class BudgetExceededError extends Error {
  constructor(
    readonly reason: "cost" | "deadline",
    readonly spent: number,
    readonly limit: number,
  ) {
    super(reason === "cost" ? `cost budget exceeded (${spent} > ${limit} units)` : `evaluation deadline exceeded (${limit.toFixed(0)} ms)`);
    this.name = "BudgetExceededError";
  }
}

/** How often, in charges, the deadline is read: performance.now() is cheap but not free. */
const CLOCK_EVERY = 256;
/** A charge this large (a call handed a list of 64 items or more) reads the clock at once. */
const BIG_CHARGE = 64;

export class EvaluationBudget {
  private spent = 0;
  private untilClock = CLOCK_EVERY;

  /**
   * @param costLimit units this request may spend (Infinity: no cost limit)
   * @param deadline performance.now() value after which evaluation stops (Infinity: none)
   * @param timeoutMs the configured timeout, for the message only
   */
  constructor(
    readonly costLimit: number = Infinity,
    readonly deadline: number = Infinity,
    private readonly timeoutMs: number = 0,
  ) {}

  /** Adds `units` to what was spent; throws BudgetExceededError past the cost limit or the deadline. */
  charge(units: number): void {
    this.spent += units;
    if (this.spent > this.costLimit) throw new BudgetExceededError("cost", this.spent, this.costLimit);
    // A large charge stands for a call that walks a long list: 256 of them between two readings
    // could overshoot the deadline by a large fraction of it.
    if (units >= BIG_CHARGE || --this.untilClock <= 0) {
      this.untilClock = CLOCK_EVERY;
      this.checkDeadline();
    }
  }

  /** Reads the clock now (between policies, before a lookup). */
  checkDeadline(): void {
    // No deadline (the CLI's runs, UNLIMITED): no clock to read, at every policy and lookup.
    if (this.deadline !== Infinity && performance.now() > this.deadline) throw new BudgetExceededError("deadline", this.spent, this.timeoutMs);
  }

  get used(): number {
    return this.spent;
  }
}

/** A budget that never trips, for callers that set no limits. */
export const UNLIMITED: EvaluationBudget = new EvaluationBudget();
