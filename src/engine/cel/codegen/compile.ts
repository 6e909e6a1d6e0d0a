import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import type { EvaluationBudget } from "../../budget.js";
import { emit } from "./emitter.js";
import type { EnvironmentFor } from "./fallback.js";
import { runtime, type Runtime } from "./runtime.js";
import type { Value } from "./values.js";

/** `variables.NAME` as the generated code reads it: resolved on first use, then cached. */
export interface VariableScope {
  get(name: string): Value;
  /** Every variable as a map, for the rare expression that reads `variables` as a whole. */
  all(): Value;
}

export type CompiledBindings = { readonly variables?: VariableScope } & { readonly [name: string]: unknown };

/** Evaluates the expression; CEL errors are thrown as CelFault, a tripped budget as BudgetExceededError. */
export type CompiledFunction = (bindings: CompiledBindings, budget: EvaluationBudget) => Value;

export interface Generated {
  readonly run: CompiledFunction;
  readonly source: string;
  readonly fallbacks: number;
}

/**
 * Compiles a parsed expression to a JavaScript function, instantiated once: the generated source
 * closes over the runtime helpers and its constants, so each evaluation is one plain call.
 */
export function generate(root: Expr, roots: readonly string[], env?: EnvironmentFor, container?: string): Generated {
  const { body, constants, fallbacks } = emit(root, new Set(roots), env, container);
  const source = `"use strict";\nreturn function compiled($b, $c) {\n${body}\n};`;
  const factory = new Function("$rt", "$k", source) as (rt: Runtime, k: readonly unknown[]) => CompiledFunction;
  return { run: factory(runtime, constants), source, fallbacks };
}
