import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import type { EvaluationBudget } from "../../budget.js";
import { constantOf, type ConstantSpec } from "./constants.js";
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
  /** The code as data another process can instantiate (see `instantiate`); undefined when it cannot be stored. */
  readonly code: GeneratedCode | undefined;
}

/** Generated code as JSON: the function body and how to rebuild the constants it reads. */
export interface GeneratedCode {
  readonly body: string;
  readonly constants: readonly ConstantSpec[];
}

function factoryOf(body: string): (rt: Runtime, k: readonly unknown[]) => CompiledFunction {
  const source = `"use strict";\nreturn function compiled($b, $c) {\n${body}\n};`;
  return new Function("$rt", "$k", source) as (rt: Runtime, k: readonly unknown[]) => CompiledFunction;
}

/** The function that stored code (from `generate` in this version of the compiler) stands for. */
export function instantiate(code: GeneratedCode): CompiledFunction {
  return factoryOf(code.body)(runtime, code.constants.map(constantOf));
}

/**
 * Compiles a parsed expression to a JavaScript function, instantiated once: the generated source
 * closes over the runtime helpers and its constants, so each evaluation is one plain call.
 */
export function generate(root: Expr, roots: readonly string[], env?: EnvironmentFor, container?: string): Generated {
  const { body, constants, specs, fallbacks } = emit(root, new Set(roots), env, container);
  const source = `"use strict";\nreturn function compiled($b, $c) {\n${body}\n};`;
  return { run: factoryOf(body)(runtime, constants), source, fallbacks, code: specs && { body, constants: specs } };
}
