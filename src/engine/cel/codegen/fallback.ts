import { plan, type CelEnv, type CelValue } from "@bufbuild/cel";
import { clone, create } from "@bufbuild/protobuf";
import { ExprSchema, ParsedExprSchema, type Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { environment } from "../environment.js";
import { budgetTrip } from "../metering.js";
import { CelFault, fromInterpreter, toInterpreter, type Value } from "./values.js";
import { typeName } from "./types.js";

/*
 * The boundary with @bufbuild/cel's interpreter: whatever the compiler does not implement itself
 * (a function it has no native overload for, an operator on a value it cannot represent, a
 * construct such as a message literal) is planned once with the interpreter and called from the
 * generated code, converting only the values that cross.
 */

export type Planned = (args: readonly Value[]) => Value;

let nextId = 1n << 41n;
const ident = (name: string): Expr => create(ExprSchema, { id: nextId++, exprKind: { case: "identExpr", value: { name } } });

/** The interpreter environment for a fallback over these free variables. */
export type EnvironmentFor = (names: readonly string[]) => CelEnv;

function planWith(expr: Expr, names: readonly string[], env: EnvironmentFor = environment): Planned {
  const run = plan(env(names), create(ParsedExprSchema, { expr }));
  return (args) => {
    const bindings: Record<string, ReturnType<typeof toInterpreter>> = {};
    for (let i = 0; i < names.length; i++) bindings[names[i] as string] = toInterpreter(args[i]);
    let result;
    try {
      result = run(bindings);
    } catch (err) {
      throw budgetTrip() ?? new CelFault(err instanceof Error ? err.message : String(err));
    }
    // The interpreter turns a budget trip inside it into a CEL error; it must not be absorbed.
    const trip = budgetTrip();
    if (trip) throw trip;
    return fromInterpreter(result as CelValue);
  };
}

const calls = new Map<string, Planned>();

/** Calls a function (`member`: as a method on args[0]) through the interpreter. */
export function interpreterCall(fn: string, member: boolean, args: readonly Value[]): Value {
  const key = `${fn}/${member ? "m" : "f"}/${args.length}`;
  let call = calls.get(key);
  if (!call) {
    const names = args.map((_, i) => `$${i}`);
    const [target, ...rest] = names.map(ident);
    const expr = create(ExprSchema, {
      id: nextId++,
      exprKind: { case: "callExpr", value: member ? { function: fn, target, args: rest } : { function: fn, args: names.map(ident) } },
    });
    call = planWith(expr, names);
    calls.set(key, call);
  }
  return call(args);
}

/** Plans a sub-expression the compiler leaves to the interpreter; `names` are its free variables. */
export function planSubtree(expr: Expr, names: readonly string[], env?: EnvironmentFor): Planned {
  return planWith(clone(ExprSchema, expr), names, env);
}

/** The error the interpreter reports when no overload fits, so both paths read alike. */
export function noOverload(fn: string, args: readonly Value[]): CelFault {
  return new CelFault(`found no matching overload for '${fn}' applied to '(${args.map(typeName).join(", ")})'`);
}
