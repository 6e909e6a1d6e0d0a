import { celEnv, isCelList, isCelMap, type CelFunc, type CelValue } from "@bufbuild/cel";
import { BudgetExceededError, UNLIMITED, type EvaluationBudget } from "../budget.js";

/**
 * Charging the interpreter's work to the request's EvaluationBudget.
 *
 * The CEL interpreter runs comprehensions itself, with no hook inside its loops. But every step
 * of a loop that does anything calls a function (`==`, `<`, `+` that grows a filter's result,
 * `in`, `size`, `cidr`, `overlaps`, …), and every function goes through `call`. So each function,
 * standard and ours, is wrapped to charge the budget before it runs: a quadratic `filter` inside
 * `map` over 1,000 CIDRs trips the budget after the first few hundred thousand steps instead of
 * holding the event loop for half a minute.
 *
 * Evaluation is synchronous, so the request's budget can be the module's "active" one for the
 * duration of evaluate(); no function ever sees another request's budget.
 */
let active: EvaluationBudget = UNLIMITED;
/**
 * The first trip of the active budget. CEL absorbs errors (`true || error` is true) and wraps
 * thrown ones, so a trip is recorded here rather than trusted to come out of the expression.
 */
let trip: BudgetExceededError | undefined;

/** Runs `fn` with `budget` charged by every CEL function call inside it. */
export function withBudget<T>(budget: EvaluationBudget, fn: () => T): T {
  const previous = { active, trip };
  active = budget;
  trip = undefined;
  try {
    return fn();
  } finally {
    ({ active, trip } = previous);
  }
}

/** Charges the active budget (library code with loops of its own). */
export function charge(units: number): void {
  try {
    active.charge(units);
  } catch (err) {
    if (err instanceof BudgetExceededError) trip ??= err;
    throw err;
  }
}

/** The active budget's trip, if it ran out since withBudget began. */
export function budgetTrip(): BudgetExceededError | undefined {
  return trip;
}

/**
 * Units for one call: 1, plus the size of every list or map it is handed, plus 1 per 64 string
 * bytes. Work beyond that (distinct() comparing lists or maps) the library charges itself.
 */
function cost(name: string, target: CelValue | undefined, args: readonly CelValue[]): number {
  let units = 1;
  const add = (v: CelValue | undefined): void => {
    if (typeof v === "string") units += v.length >> 6;
    else if (typeof v === "object" && v !== null && (isCelList(v) || isCelMap(v))) units += v.size;
  };
  add(target);
  // `a + b` on lists appends b to a's items (flat-list.ts): a filter's `accu + [x]` is one unit
  // a step, not the accumulator's size, or a linear filter would be charged quadratically.
  if (name === "_+_" && args.length === 2 && typeof args[0] === "object" && args[0] !== null && isCelList(args[0])) add(args[1]);
  else for (const a of args) add(a);
  return units;
}

function metered(f: CelFunc): CelFunc {
  // Everything but `call` (id, name, types, the library's brand) comes from the original.
  const m = Object.create(f) as CelFunc & { call: CelFunc["call"] };
  const name = f.name;
  m.call = (id, target, args) => {
    charge(cost(name, target, args));
    return f.call(id, target, args);
  };
  return m;
}

/**
 * CEL's standard functions and `extra`, each charging the active budget. Registered after the
 * standard library, they replace its functions of the same signature.
 */
export function meteredFunctions(extra: readonly CelFunc[]): CelFunc[] {
  return [...celEnv().funcs, ...extra].map(metered);
}
