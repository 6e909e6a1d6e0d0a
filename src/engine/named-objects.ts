import { parse } from "@bufbuild/cel";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import type { ParsedExpressionCache } from "./cel/compile.js";
import { kindKeyOf, type KindKey, type PolicyDocument } from "./types.js";

/** The one object of a kind that a policy set can read: a name, and for a namespaced kind its namespace. */
export interface NamedObject {
  readonly name: string;
  readonly namespace?: string;
}

/**
 * The strings an expression can evaluate to when it is made of string literals and conditionals
 * only (`has(x) ? 'a' : ''`); undefined when anything else (a field, a variable, a call) decides.
 */
export function literalStrings(expr: Expr | undefined): Set<string> | undefined {
  if (!expr) return undefined;
  const kind = expr.exprKind;
  if (kind.case === "constExpr") return kind.value.constantKind.case === "stringValue" ? new Set([kind.value.constantKind.value]) : undefined;
  if (kind.case === "callExpr" && kind.value.function === "_?_:_" && kind.value.args.length === 3) {
    const a = literalStrings(kind.value.args[1]);
    const b = literalStrings(kind.value.args[2]);
    return a && b ? new Set([...a, ...b]) : undefined;
  }
  return undefined;
}

/**
 * For each looked-up kind, the one object every lookup of it names with constants, or null when
 * some lookup can read others (a list, a query, an index, a name computed from the request).
 * A lookup named '' reads nothing (the evaluator skips it), so it does not count as a name.
 * Kinds read from a Secret are left out: their Secret is named already.
 */
export function namedObjects(documents: readonly PolicyDocument[], parsed?: ParsedExpressionCache): Map<KindKey, NamedObject | null> {
  const out = new Map<KindKey, NamedObject | null>();
  const settle = (kind: KindKey, object: NamedObject | null): void => {
    const known = out.get(kind);
    if (known === undefined) out.set(kind, object);
    else if (known !== null && (object === null || known.name !== object.name || known.namespace !== object.namespace)) out.set(kind, null);
  };
  const strings = (source: string | undefined): Set<string> | undefined => {
    if (source === undefined) return undefined;
    try {
      return literalStrings((parsed?.get(source) ?? parse(source)).expr);
    } catch {
      return undefined;
    }
  };
  for (const doc of documents) {
    for (const index of doc.spec.indexes ?? []) if (!index.target.fromSecret) settle(kindKeyOf(index.target.apiVersion, index.target.kind), null);
    for (const v of doc.spec.variables ?? []) {
      const lookup = v.lookup;
      if (!lookup || lookup.target.fromSecret) continue;
      const kind = kindKeyOf(lookup.target.apiVersion, lookup.target.kind);
      if (!lookup.get) {
        settle(kind, null);
        continue;
      }
      const names = strings(lookup.get.name);
      names?.delete("");
      // A namespaced get without a namespace reads the request's namespace: any.
      const namespaces = lookup.target.namespaced ? strings(lookup.get.namespace) : undefined;
      const name = names?.size === 1 ? [...names][0] : undefined;
      const namespace = namespaces?.size === 1 ? [...namespaces][0] : undefined;
      if (name === undefined || (lookup.target.namespaced && !namespace)) {
        settle(kind, null);
        continue;
      }
      settle(kind, lookup.target.namespaced ? { name, namespace } : { name });
    }
  }
  return out;
}
