import { EvaluationBudget } from "./budget.js";

/**
 * Cost units one request may spend, whatever the clock says: the per-evaluation limit
 * Kubernetes gives a ValidatingAdmissionPolicy (10,000,000). The shipped set spends a few hundred
 * units on a VirtualMachine and a few thousand on a ModuleConfig; 10 million units are roughly
 * half a second to a few seconds of interpreter work, so the deadline usually trips first. The
 * cost limit makes the verdict on a huge request the same on a fast machine and a slow one.
 */
export const DEFAULT_COST_LIMIT = 10_000_000;

/** The budget for one request starting now: `timeoutMs` of wall clock and `costLimit` units. */
export function requestBudget(timeoutMs: number, costLimit: number = DEFAULT_COST_LIMIT): EvaluationBudget {
  return new EvaluationBudget(costLimit, performance.now() + timeoutMs, timeoutMs);
}
