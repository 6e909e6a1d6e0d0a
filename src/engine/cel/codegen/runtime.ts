import { BudgetExceededError } from "../../budget.js";
import { noOverload } from "./fallback.js";
import * as ops from "./operators.js";
import { typeName } from "./types.js";
import { CelFault, type Value } from "./values.js";

/** What a catch block in generated code holds: a CEL error value, or a fault to rethrow. */
function fault(e: unknown): CelFault {
  if (e instanceof CelFault) return e;
  // The budget is not a CEL error: no `||` may absorb it.
  if (e instanceof BudgetExceededError) throw e;
  if (e instanceof Error) return new CelFault(e.message);
  throw e;
}

/** The helpers generated code calls, passed to it as `$rt`. */
export const runtime = {
  ...ops,
  CelFault,
  fault,
  /** A logical operand that is not a bool, as the interpreter reports it. */
  notBool: (v: Value) => new CelFault(`type mismatch: expected bool, got ${typeName(v)}`),
  badCondition: (v: Value) => (v instanceof CelFault ? v : noOverload("_?_:_", [v])),
  /** Reads an accumulator, which may hold an error. */
  read(v: Value | CelFault): Value {
    if (v instanceof CelFault) throw v;
    return v;
  },
};
export type Runtime = typeof runtime;
