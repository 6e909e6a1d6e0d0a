import type { CelEnv } from "@bufbuild/cel";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { assignable, BOOL, describeType, DYN, elementOf, fromCelType, INT, isDyn, join, list, NEVER, NULL, scalar, STRING, type CheckType } from "./types.js";

export class TypeCheckError extends Error {}

/** Names in scope and their types: the policy's roots, then comprehension variables. */
export type TypeScope = ReadonlyMap<string, CheckType>;

const TYPE_NAMES = new Set(["int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"]);
const CONVERSIONS: Record<string, CheckType> = {
  int: INT,
  uint: scalar("uint"),
  double: scalar("double"),
  string: STRING,
  bool: BOOL,
  bytes: scalar("bytes"),
  dyn: DYN,
  type: scalar("type"),
};
const LOGICAL = new Set(["_&&_", "_||_", "!_", "@not_strictly_false"]);
const COMPARISONS = new Set(["_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_", "@in"]);
const ARITHMETIC = new Set(["_-_", "_*_", "_/_", "_%_"]);

/**
 * Infers the type of a parsed CEL expression, as the API server's checker does for
 * ValidatingAdmissionPolicy: fields an object type does not declare, operators applied to the wrong
 * types and calls no overload accepts are errors; whatever cannot be known is `dyn` and accepted.
 */
export class TypeChecker {
  /** Where the type of every sub-expression goes, while checkAll runs (for the cost estimate). */
  private record: Map<Expr, CheckType> | undefined;

  constructor(private readonly env: CelEnv) {}

  /** The expression's type and the type of each of its sub-expressions. */
  checkAll(expr: Expr, scope: TypeScope): { type: CheckType; types: ReadonlyMap<Expr, CheckType> } {
    const types = new Map<Expr, CheckType>();
    this.record = types;
    try {
      return { type: this.check(expr, scope), types };
    } finally {
      this.record = undefined;
    }
  }

  check(expr: Expr, scope: TypeScope): CheckType {
    const t = this.infer(expr, scope);
    this.record?.set(expr, t);
    return t;
  }

  private infer(expr: Expr, scope: TypeScope): CheckType {
    const kind = expr.exprKind;
    switch (kind.case) {
      case "constExpr":
        return constantType(kind.value.constantKind.case);
      case "identExpr": {
        const t = scope.get(kind.value.name);
        if (t) return t;
        if (TYPE_NAMES.has(kind.value.name)) return scalar("type");
        throw new TypeCheckError(`undeclared reference to "${kind.value.name}"`);
      }
      case "selectExpr": {
        const operand = kind.value.operand;
        if (!operand) return DYN;
        const field = this.field(this.check(operand, scope), kind.value.field, operand);
        return kind.value.testOnly ? BOOL : field;
      }
      case "callExpr":
        return this.call(kind.value.function, kind.value.target, kind.value.args, scope);
      case "listExpr": {
        let elem: CheckType = NEVER;
        for (const e of kind.value.elements) elem = join(elem, this.check(e, scope));
        return list(elem, kind.value.elements.length);
      }
      case "structExpr": {
        let value: CheckType = NEVER;
        for (const entry of kind.value.entries) {
          if (entry.keyKind.case === "mapKey") this.check(entry.keyKind.value, scope);
          if (entry.value) value = join(value, this.check(entry.value, scope));
        }
        return kind.value.messageName ? DYN : { kind: "map", value: value.kind === "never" ? DYN : value };
      }
      case "comprehensionExpr": {
        const c = kind.value;
        const range = c.iterRange ? this.check(c.iterRange, scope) : DYN;
        const inner = new Map(scope);
        if (c.iterVar2) {
          inner.set(c.iterVar, range.kind === "list" ? INT : elementOf(range));
          inner.set(c.iterVar2, range.kind === "list" ? elementOf(range) : range.kind === "map" ? range.value : DYN);
        } else {
          inner.set(c.iterVar, elementOf(range));
        }
        let accu = c.accuInit ? this.check(c.accuInit, scope) : DYN;
        inner.set(c.accuVar, accu);
        // The step (accu + [f(x)] for map and filter) says what the accumulator becomes.
        if (c.loopStep) accu = join(accu, this.check(c.loopStep, inner));
        inner.set(c.accuVar, accu);
        if (c.loopCondition) this.check(c.loopCondition, inner);
        const result = c.result ? this.check(c.result, inner) : DYN;
        // map and filter yield at most as many items as they range over.
        return result.kind === "list" && range.kind === "list" && range.maxItems !== undefined ? list(result.elem, range.maxItems) : result;
      }
      default:
        return DYN;
    }
  }

  private field(t: CheckType, name: string, operand: Expr): CheckType {
    switch (t.kind) {
      case "object": {
        const f = t.fields.get(name);
        if (f) return f;
        if (t.open) return DYN;
        const known = [...t.fields.keys()].sort().join(", ");
        throw new TypeCheckError(`unknown field "${name}" of ${describeOperand(operand)} (its schema declares: ${known || "no fields"})`);
      }
      case "map":
        return t.value;
      case "dyn":
      case "never":
        return DYN;
      case "scalar":
        if (t.name === "null") return DYN;
        throw new TypeCheckError(`cannot select field "${name}" of ${describeOperand(operand)}, a ${describeType(t)}`);
      default:
        throw new TypeCheckError(`cannot select field "${name}" of ${describeOperand(operand)}, a ${describeType(t)}`);
    }
  }

  private call(fn: string, target: Expr | undefined, args: readonly Expr[], scope: TypeScope): CheckType {
    // A namespaced function such as ip.isCanonical(s) parses as a method call on an identifier.
    if (target?.exprKind.case === "identExpr" && !scope.has(target.exprKind.value.name) && this.env.funcs.find(`${target.exprKind.value.name}.${fn}`)) {
      return this.overload(`${target.exprKind.value.name}.${fn}`, undefined, args.map((a) => this.check(a, scope)));
    }
    const self = target ? this.check(target, scope) : undefined;
    const types = args.map((a) => this.check(a, scope));
    const [a = DYN, b = DYN, c = DYN] = types;
    if (LOGICAL.has(fn)) {
      for (const [i, t] of types.entries()) if (!assignable(BOOL, t)) throw new TypeCheckError(`${operatorName(fn)} needs bool operands, but operand ${i + 1} is ${describeType(t)}`);
      return BOOL;
    }
    if (COMPARISONS.has(fn)) {
      if (fn !== "_==_" && fn !== "_!=_" && fn !== "@in" && comparable(a, b) === false) throw new TypeCheckError(`cannot compare ${describeType(a)} with ${describeType(b)} (${operatorName(fn)})`);
      return BOOL;
    }
    switch (fn) {
      case "_?_:_":
        if (!assignable(BOOL, a)) throw new TypeCheckError(`the condition of ?: must be bool, but is ${describeType(a)}`);
        return join(b, c);
      case "_+_":
        return this.plus(a, b);
      case "-_":
        return a;
      case "_[_]":
        return index(a);
      case "size":
        return INT;
    }
    if (ARITHMETIC.has(fn)) return arithmetic(fn, a, b);
    if (!target && fn in CONVERSIONS) return CONVERSIONS[fn] as CheckType;
    if (fn === "has" || fn.startsWith("@") || fn.startsWith("optional.")) return DYN;
    return this.overload(fn, self, types);
  }

  private plus(a: CheckType, b: CheckType): CheckType {
    if (isDyn(a) || isDyn(b)) {
      const known = isDyn(a) ? b : a;
      return known.kind === "scalar" && known.name === "string" ? STRING : DYN;
    }
    if (a.kind === "list" && b.kind === "list") return list(join(a.elem, b.elem));
    if (a.kind === "scalar" && b.kind === "scalar" && a.name === b.name && ["int", "uint", "double", "string", "bytes"].includes(a.name)) return scalar(a.name);
    throw new TypeCheckError(`no + for ${describeType(a)} and ${describeType(b)}${isStringAnd(a, b) ? " (convert with string())" : ""}`);
  }

  private overload(fn: string, self: CheckType | undefined, types: readonly CheckType[]): CheckType {
    const group = this.env.funcs.find(fn);
    if (!group) throw new TypeCheckError(`undeclared function "${fn}"`);
    let result: CheckType | undefined;
    let named = false;
    for (const f of group) {
      if ((f.target === undefined) !== (self === undefined) || f.arguments.length !== types.length) continue;
      named = true;
      if (self && f.target && !assignable(fromCelType(f.target), self)) continue;
      if (!f.arguments.every((p, i) => assignable(fromCelType(p), types[i] as CheckType))) continue;
      const r = fromCelType(f.result);
      result = result === undefined ? r : sameType(result, r) ? result : DYN;
    }
    if (result) return result;
    const call = `${self ? `${describeType(self)}.` : ""}${fn}(${types.map(describeType).join(", ")})`;
    throw new TypeCheckError(named ? `no overload of ${fn} accepts ${call}` : `${fn} takes no ${self ? "method call with" : "call with"} ${types.length} argument(s): ${call}`);
  }
}

function constantType(kind: string | undefined): CheckType {
  switch (kind) {
    case "nullValue":
      return NULL;
    case "boolValue":
      return BOOL;
    case "int64Value":
      return INT;
    case "uint64Value":
      return scalar("uint");
    case "doubleValue":
      return scalar("double");
    case "stringValue":
      return STRING;
    case "bytesValue":
      return scalar("bytes");
    default:
      return DYN;
  }
}

function index(t: CheckType): CheckType {
  if (t.kind === "list") return elementOf(t);
  if (t.kind === "map") return t.value;
  return DYN;
}

const NUMERIC = new Set(["int", "uint", "double"]);

function arithmetic(fn: string, a: CheckType, b: CheckType): CheckType {
  if (isDyn(a) || isDyn(b)) return isDyn(a) ? (isDyn(b) ? DYN : b) : a;
  if (a.kind === "scalar" && b.kind === "scalar" && a.name === b.name && NUMERIC.has(a.name) && !(fn === "_%_" && a.name === "double")) return a;
  throw new TypeCheckError(`no ${operatorName(fn)} for ${describeType(a)} and ${describeType(b)}`);
}

/** Ordering compares numbers with numbers (int, uint and double mix), strings with strings. */
function comparable(a: CheckType, b: CheckType): boolean | undefined {
  if (isDyn(a) || isDyn(b) || a.kind !== "scalar" || b.kind !== "scalar") return undefined;
  if (NUMERIC.has(a.name) && NUMERIC.has(b.name)) return true;
  return a.name === b.name && a.name !== "null";
}

function isStringAnd(a: CheckType, b: CheckType): boolean {
  return (a.kind === "scalar" && a.name === "string") !== (b.kind === "scalar" && b.name === "string");
}

function sameType(a: CheckType, b: CheckType): boolean {
  return describeType(a) === describeType(b);
}

function operatorName(fn: string): string {
  const names: Record<string, string> = {
    "_&&_": "&&",
    "_||_": "||",
    "!_": "!",
    "@not_strictly_false": "a macro",
    "_<_": "<",
    "_<=_": "<=",
    "_>_": ">",
    "_>=_": ">=",
    "_-_": "-",
    "_*_": "*",
    "_/_": "/",
    "_%_": "%",
  };
  return names[fn] ?? fn;
}

/** object.spec.cpu for a chain of selects, else a generic description. */
function describeOperand(e: Expr): string {
  const kind = e.exprKind;
  if (kind.case === "identExpr") return kind.value.name;
  if (kind.case === "selectExpr" && kind.value.operand) {
    const inner = describeOperand(kind.value.operand);
    return inner === "an expression" ? inner : `${inner}.${kind.value.field}`;
  }
  if (kind.case === "callExpr" && kind.value.function === "_[_]" && kind.value.args[0]) {
    const inner = describeOperand(kind.value.args[0]);
    return inner === "an expression" ? inner : `${inner}[…]`;
  }
  return "an expression";
}
