import type { CompiledExpression } from "./cel/compile.js";
import type { CompiledPolicy, CompiledValidation, CompiledVariable } from "./policy-set.js";

const PARAM = /\bparams\.([A-Za-z_][A-Za-z0-9_]*)/g;
const VARIABLE = /\bvariables\.([A-Za-z_][A-Za-z0-9_]*)/g;

const memo = new WeakMap<CompiledValidation, readonly string[]>();

function sourcesOf(variable: CompiledVariable): string[] {
  const exprs: (CompiledExpression | undefined)[] =
    variable.type === "expression"
      ? [variable.expr]
      : variable.type === "get"
        ? [variable.objectName, variable.namespace]
        : variable.type === "ipQuery"
          ? [variable.within, variable.outside]
          : [];
  return exprs.filter((e): e is CompiledExpression => e !== undefined).map((e) => e.source);
}

/**
 * The parameters a validation's verdict and message read, directly or through the policy's
 * variables: when one of them was not given, the finding rests on its default, an assumption.
 */
export function parametersRead(policy: CompiledPolicy, validation: CompiledValidation): readonly string[] {
  let found = memo.get(validation);
  if (found) return found;
  const params = new Set<string>();
  const seen = new Set<string>();
  const pending = [validation.expr.source, validation.messageExpr?.source ?? ""];
  while (pending.length > 0) {
    const source = pending.pop() as string;
    for (const m of source.matchAll(PARAM)) params.add(m[1] as string);
    for (const m of source.matchAll(VARIABLE)) {
      const name = m[1] as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const variable = policy.variables.find((v) => v.name === name);
      if (variable) pending.push(...sourcesOf(variable));
    }
  }
  found = [...params].sort();
  memo.set(validation, found);
  return found;
}

const policyMemo = new WeakMap<CompiledPolicy, ReadonlySet<string>>();

/** Every parameter any of the policy's validations may read: the ones worth watching during a run. */
export function parametersReadByPolicy(policy: CompiledPolicy): ReadonlySet<string> {
  let found = policyMemo.get(policy);
  if (!found) policyMemo.set(policy, (found = new Set(policy.validations.flatMap((v) => parametersRead(policy, v)))));
  return found;
}
