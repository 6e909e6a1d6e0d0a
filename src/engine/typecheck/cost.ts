import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import type { CheckType } from "./types.js";

/**
 * A list or map whose schema sets no maxItems (or whose type is unknown) counts as this many
 * items in the estimate. Kubernetes derives the bound from the largest request it accepts, which
 * makes every unbounded comprehension exceed its limit; virtguard assumes a generous list instead,
 * so that only nested iteration over unbounded lists (quadratic or worse) is refused.
 */
export const UNBOUNDED_ITEMS = 1000;

/** The most an expression may be estimated to cost, as Kubernetes bounds each CEL expression. */
export const EXPRESSION_COST_LIMIT = 10_000_000_000;

/** Functions that walk their list (or list argument) once; overlappingPairs also sorts it. */
const LINEAR = new Set(["@in", "join", "distinct", "flatten", "sum", "min", "max", "indexOf", "lastIndexOf", "isSorted", "slice", "cidr.overlappingPairs"]);

function itemsOf(t: CheckType | undefined): number {
  if (!t) return UNBOUNDED_ITEMS;
  if (t.kind === "list" || t.kind === "map") return t.maxItems ?? UNBOUNDED_ITEMS;
  if (t.kind === "object") return t.fields.size;
  return t.kind === "dyn" || t.kind === "never" ? UNBOUNDED_ITEMS : 1;
}

function isCollection(t: CheckType): boolean {
  return t.kind === "list" || t.kind === "map" || t.kind === "dyn";
}

/**
 * The estimated worst-case cost of an expression, in the units of Kubernetes' CEL cost model: one
 * per node, a comprehension's body once per item of its range, a list function once per item.
 * `types` holds the type of every sub-expression, from the type checker.
 */
export function estimateCost(expr: Expr, types: ReadonlyMap<Expr, CheckType>): number {
  const kind = expr.exprKind;
  switch (kind.case) {
    case "selectExpr":
      return 1 + (kind.value.operand ? estimateCost(kind.value.operand, types) : 0);
    case "callExpr": {
      const operands = [...(kind.value.target ? [kind.value.target] : []), ...kind.value.args];
      let cost = 1;
      for (const e of operands) cost += estimateCost(e, types);
      const fn = kind.value.target?.exprKind.case === "identExpr" && kind.value.target.exprKind.value.name === "cidr" ? `cidr.${kind.value.function}` : kind.value.function;
      if (LINEAR.has(fn)) {
        // The list walked: `x in list`'s right side, a method's target, a function's argument.
        const walked = fn === "@in" ? kind.value.args[1] : (kind.value.target ?? kind.value.args[0]);
        const t = walked && types.get(walked);
        const n = t && isCollection(t) && !(fn === "@in" && t.kind === "map") ? itemsOf(t) : 0;
        cost += fn === "cidr.overlappingPairs" ? n * Math.max(1, Math.log2(n)) : n;
      }
      return cost;
    }
    case "listExpr":
      return kind.value.elements.reduce((sum, e) => sum + estimateCost(e, types), 1);
    case "structExpr":
      return kind.value.entries.reduce((sum, e) => sum + (e.keyKind.case === "mapKey" ? estimateCost(e.keyKind.value, types) : 0) + (e.value ? estimateCost(e.value, types) : 0), 1);
    case "comprehensionExpr": {
      const c = kind.value;
      const n = c.iterRange ? itemsOf(types.get(c.iterRange)) : UNBOUNDED_ITEMS;
      const body = (c.loopCondition ? estimateCost(c.loopCondition, types) : 0) + (c.loopStep ? estimateCost(c.loopStep, types) : 0);
      return (c.iterRange ? estimateCost(c.iterRange, types) : 0) + (c.accuInit ? estimateCost(c.accuInit, types) : 0) + n * body + (c.result ? estimateCost(c.result, types) : 0);
    }
    default:
      return 1;
  }
}
