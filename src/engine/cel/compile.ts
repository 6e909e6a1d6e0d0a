import { celMap, isCelError, parse, plan, type CelEnv, type CelValue } from "@bufbuild/cel";
import { create } from "@bufbuild/protobuf";
import { ExprSchema, type Expr, type ParsedExpr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { UNLIMITED, type EvaluationBudget, BudgetExceededError } from "../budget.js";
import { generate, instantiate, type CompiledBindings, type CompiledFunction, type GeneratedCode, type VariableScope } from "./codegen/compile.js";
import { CelFault, fromInterpreter, toInterpreter, type Value } from "./codegen/values.js";
import { environment } from "./environment.js";
import { budgetTrip } from "./metering.js";

/** The names every policy expression may refer to. */
export const ROOT_VARIABLES = ["object", "oldObject", "request", "params", "variables", "namespaceObject"] as const;
export type RootVariable = (typeof ROOT_VARIABLES)[number];

/** What an expression reads: JSON as decoded (objects are never converted as a whole), and the policy's variables. */
export type Bindings = CompiledBindings;
export type { Value, VariableScope };

/** Which engine evaluates: the compiler (default), or @bufbuild/cel's interpreter (VIRTGUARD_CEL=interpreter). */
export type CelEngine = "compiler" | "interpreter";

export function defaultEngine(): CelEngine {
  return process.env.VIRTGUARD_CEL === "interpreter" ? "interpreter" : "compiler";
}

/** A CEL expression parsed and compiled once, at policy load. */
export interface CompiledExpression {
  readonly source: string;
  readonly engine: CelEngine;
  /**
   * Returns the value, or an Error describing why the expression could not be evaluated. A budget
   * trip is not a CEL error: BudgetExceededError is thrown.
   */
  evaluate(bindings: Bindings, budget?: EvaluationBudget): Value | Error;
  /**
   * The value, or a throw: a CelFault (or another Error) for a CEL error, BudgetExceededError for a
   * trip. For callers that catch anyway (a variable turns any failure into an error value), so
   * the result needs no test and no Error is made on the way.
   */
  call(bindings: Bindings, budget: EvaluationBudget): Value;
}

export class CelCompileError extends Error {}

/**
 * Parsed expressions known ahead of time (the shipped policies are parsed at build time): the
 * CEL parser is by far the slowest step of loading a policy set. Must return a fresh object
 * on every call, since compilation rewrites the tree.
 */
export interface ParsedExpressionCache {
  get(source: string): ParsedExpr | undefined;
}

/**
 * Generated code kept across processes by the caller (the engine does no I/O). `get` must only
 * answer for an expression known to compile in this context with this build of the compiler:
 * what it returns is used as is, without parsing or checking the expression. `set` receives the
 * code of every expression compiled here whose code can be stored.
 */
export interface GeneratedCodeCache {
  get(key: string): GeneratedCode | undefined;
  set?(key: string, code: GeneratedCode): void;
}
export type { GeneratedCode };

/** What generated code depends on besides the compiler: the expression and the names it may read. */
export function codeKey(source: string, roots: readonly string[] = ROOT_VARIABLES): string {
  return `${roots.join(",")}\n${source}`;
}

export interface CompileOptions {
  parsed?: ParsedExpressionCache;
  code?: GeneratedCodeCache;
  /** Names `variables.NAME` may use here; a reference to any other is a load-time error. */
  variables?: ReadonlySet<string>;
  /** Top-level names instead of the policy ones, e.g. ["self", "oldSelf"] for CRD validation rules. */
  roots?: readonly string[];
  engine?: CelEngine;
}

export function compileExpression(source: string, options: CompileOptions = {}): CompiledExpression {
  const compiler = (options.engine ?? defaultEngine()) === "compiler";
  const key = options.code && compiler ? codeKey(source, options.roots) : undefined;
  const stored = key === undefined ? undefined : options.code?.get(key);
  if (stored) return storedFunction(source, stored);
  let parsed = options.parsed?.get(source);
  if (!parsed) {
    try {
      parsed = parse(source);
    } catch (err) {
      throw new CelCompileError(`CEL syntax error: ${(err as Error).message.replace(/^<input>:/, "at ")}`);
    }
  }
  if (!parsed.expr) throw new CelCompileError("CEL expression is empty");
  const root = parsed.expr;
  const roots = options.roots ?? ROOT_VARIABLES;
  const env = environment(roots);
  checkReferences(root, new Set(roots), options.variables, env);
  if (!compiler) return interpreted(source, parsed, roots, env);
  const { run, code } = generate(root, roots);
  if (key !== undefined && code) options.code?.set?.(key, code);
  return compiledFunction(source, run);
}

/** Stored code, instantiated on first use: a run evaluates only the expressions of the policies that match. */
function storedFunction(source: string, code: GeneratedCode): CompiledExpression {
  let run: CompiledFunction | undefined;
  return {
    source,
    engine: "compiler",
    evaluate(bindings, budget = UNLIMITED) {
      try {
        return (run ??= instantiate(code))(bindings, budget);
      } catch (err) {
        return failure(err);
      }
    },
    call(bindings, budget) {
      return (run ??= instantiate(code))(bindings, budget);
    },
  };
}

function compiledFunction(source: string, run: CompiledFunction): CompiledExpression {
  return {
    source,
    engine: "compiler",
    evaluate(bindings, budget = UNLIMITED) {
      try {
        return run(bindings, budget);
      } catch (err) {
        return failure(err);
      }
    },
    call: run,
  };
}

function failure(err: unknown): Error {
  if (err instanceof BudgetExceededError) throw err;
  if (err instanceof CelFault) return new Error(err.message);
  return err instanceof Error ? err : new Error(String(err));
}

/** Interpreter values of the JSON objects bindings hold, converted once per object. */
const converted = new WeakMap<object, CelValue>();

function interpreterValue(v: unknown): CelValue {
  if (typeof v !== "object" || v === null) return toInterpreter(v as Value);
  let c = converted.get(v);
  if (c === undefined) {
    c = toInterpreter(v as Value);
    converted.set(v, c);
  }
  return c;
}

/** `variables` for the interpreter: a map whose entries resolve through the same lazy scope. */
class InterpreterVariables extends Map<string, CelValue> {
  constructor(private readonly scope: VariableScope) {
    super();
  }
  override get(name: string): CelValue | undefined {
    try {
      return interpreterValue(this.scope.get(name));
    } catch (err) {
      if (err instanceof CelFault) return undefined;
      throw err;
    }
  }
  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

function interpreted(source: string, parsed: ParsedExpr, roots: readonly string[], env: CelEnv): CompiledExpression {
  const root = parsed.expr as Expr;
  anchorRootVariables(root, new Set(roots));
  const run = plan(env, parsed);
  const scopes = new WeakMap<VariableScope, CelValue>();
  return {
    source,
    engine: "interpreter",
    evaluate(bindings) {
      const input: Record<string, CelValue> = {};
      for (const name of roots) {
        if (name === "variables" && bindings.variables) {
          let v = scopes.get(bindings.variables);
          if (!v) scopes.set(bindings.variables, (v = celMap(new InterpreterVariables(bindings.variables))));
          input[name] = v;
        } else input[name] = interpreterValue(bindings[name]);
      }
      let result;
      try {
        result = run(input);
      } catch (err) {
        return budgetTrip() ?? failure(err);
      }
      // A budget that ran out is the answer whatever CEL made of the error it raised.
      const trip = budgetTrip();
      if (trip) return trip;
      if (isCelError(result)) return new Error(result.message);
      try {
        return fromInterpreter(result);
      } catch (err) {
        return failure(err);
      }
    },
    call(bindings, budget) {
      const value = this.evaluate(bindings, budget);
      if (value instanceof Error) throw value;
      return value;
    },
  };
}

type ExprKind = Expr["exprKind"];

function children(kind: ExprKind): Expr[] {
  switch (kind.case) {
    case "selectExpr":
      return kind.value.operand ? [kind.value.operand] : [];
    case "callExpr":
      return [...(kind.value.target ? [kind.value.target] : []), ...kind.value.args];
    case "listExpr":
      return kind.value.elements;
    case "structExpr":
      return kind.value.entries.flatMap((e) => [
        ...(e.keyKind.case === "mapKey" ? [e.keyKind.value] : []),
        ...(e.value ? [e.value] : []),
      ]);
    default:
      return [];
  }
}

/**
 * Rejects, at load time, identifiers a request could never bind (a typo such as `objct`) and
 * calls to functions that do not exist, which CEL would otherwise report only when evaluated.
 */
function checkReferences(expr: Expr, scope: ReadonlySet<string>, variables: ReadonlySet<string> | undefined, env: CelEnv): void {
  const kind = expr.exprKind;
  if (variables && kind.case === "selectExpr") {
    const operand = kind.value.operand?.exprKind;
    if (operand?.case === "identExpr" && operand.value.name === "variables" && scope.has("variables") && !variables.has(kind.value.field)) {
      const known = variables.size ? `declared before this point: ${[...variables].join(", ")}` : "none is declared before this point";
      throw new CelCompileError(`unknown variable "variables.${kind.value.field}" (${known})`);
    }
  }
  if (kind.case === "identExpr") {
    if (!scope.has(kind.value.name) && !isTypeName(kind.value.name)) {
      throw new CelCompileError(`undeclared reference to "${kind.value.name}" (in scope: ${[...scope].join(", ")})`);
    }
    return;
  }
  if (kind.case === "comprehensionExpr") {
    const c = kind.value;
    if (c.iterRange) checkReferences(c.iterRange, scope, variables, env);
    if (c.accuInit) checkReferences(c.accuInit, scope, variables, env);
    const inner = new Set([...scope, c.iterVar, c.accuVar, ...(c.iterVar2 ? [c.iterVar2] : [])]);
    for (const e of [c.loopCondition, c.loopStep, c.result]) if (e) checkReferences(e, inner, variables, env);
    return;
  }
  if (kind.case === "callExpr" && kind.value.target?.exprKind.case === "identExpr" && !scope.has(kind.value.target.exprKind.value.name)) {
    // A namespaced function such as ip.isCanonical(s) parses as a method call on an identifier.
    const qualified = `${kind.value.target.exprKind.value.name}.${kind.value.function}`;
    if (env.funcs.find(qualified)) {
      for (const arg of kind.value.args) checkReferences(arg, scope, variables, env);
      return;
    }
  }
  if (kind.case === "callExpr" && !kind.value.function.startsWith("_") && !env.funcs.find(kind.value.function)) {
    if (!isBuiltinFunction(kind.value.function)) {
      throw new CelCompileError(`undeclared function "${kind.value.function}"`);
    }
  }
  for (const child of children(kind)) checkReferences(child, scope, variables, env);
}

const TYPE_NAMES = new Set(["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"]);
function isTypeName(name: string): boolean {
  return TYPE_NAMES.has(name);
}

// Standard functions the planner implements itself rather than through the resolver.
const PLANNER_FUNCTIONS = new Set(["dyn", "type", "has", "@not_strictly_false", "@in", "optional.of", "optional.none"]);
function isBuiltinFunction(name: string): boolean {
  return PLANNER_FUNCTIONS.has(name) || name.startsWith("@");
}

let syntheticId = 1n << 40n;

/**
 * @bufbuild/cel resolves `object.spec.cpu` by trying the qualified names `object.spec.cpu`,
 * `object.spec` and `object` against the type registry on every evaluation, which dominates the
 * cost of a simple rule. Our variables never live in a namespace, so wrapping the root in
 * `dyn()` (an identity) skips that search: measured twice as fast on field comparisons.
 */
function anchorRootVariables(expr: Expr, roots: ReadonlySet<string>): void {
  const kind = expr.exprKind;
  if (kind.case === "selectExpr") {
    const operand = kind.value.operand;
    if (operand?.exprKind.case === "identExpr" && (ROOT_VARIABLES as readonly string[]).includes(operand.exprKind.value.name)) {
      kind.value.operand = create(ExprSchema, {
        id: syntheticId++,
        exprKind: { case: "callExpr", value: { function: "dyn", args: [operand] } },
      });
      return;
    }
  }
  if (kind.case === "comprehensionExpr") {
    const c = kind.value;
    for (const e of [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result]) if (e) anchorRootVariables(e, roots);
    return;
  }
  for (const child of children(kind)) anchorRootVariables(child, roots);
}
