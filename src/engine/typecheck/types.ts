import type { CelType } from "@bufbuild/cel";

/**
 * The static type of a CEL expression, as far as load time can know it. Objects come from CRD
 * schemas and are closed (an unknown field is an error) unless the schema keeps unknown fields;
 * `dyn` is anything. Bounds (`maxItems`, `maxLength`) are kept for the cost estimate.
 */
export type CheckType =
  | { readonly kind: "dyn" }
  /** The element type of `[]`: joins to whatever it meets. */
  | { readonly kind: "never" }
  | { readonly kind: "scalar"; readonly name: ScalarName; readonly maxLength?: number }
  | { readonly kind: "opaque"; readonly name: string }
  | { readonly kind: "list"; readonly elem: CheckType; readonly maxItems?: number }
  | { readonly kind: "map"; readonly value: CheckType; readonly maxItems?: number }
  | { readonly kind: "object"; readonly name: string; readonly fields: ReadonlyMap<string, CheckType>; readonly open: boolean };

export type ScalarName = "null" | "bool" | "int" | "uint" | "double" | "string" | "bytes" | "type";

export const DYN: CheckType = { kind: "dyn" };
export const NEVER: CheckType = { kind: "never" };
const scalars = new Map<ScalarName, CheckType>();
export function scalar(name: ScalarName): CheckType {
  let t = scalars.get(name);
  if (!t) scalars.set(name, (t = { kind: "scalar", name }));
  return t;
}
export const BOOL = scalar("bool");
export const INT = scalar("int");
export const STRING = scalar("string");
export const NULL = scalar("null");

export function list(elem: CheckType, maxItems?: number): CheckType {
  return maxItems === undefined ? { kind: "list", elem } : { kind: "list", elem, maxItems };
}

export function object(name: string, fields: Record<string, CheckType> | ReadonlyMap<string, CheckType>, open = false): CheckType {
  return { kind: "object", name, fields: fields instanceof Map ? fields : new Map(Object.entries(fields)), open };
}

/** How messages print a type: int, string, list(string), object spec.cpu. */
export function describeType(t: CheckType): string {
  switch (t.kind) {
    case "dyn":
    case "never":
      return "dyn";
    case "scalar":
      return t.name === "null" ? "null_type" : t.name;
    case "opaque":
      return t.name;
    case "list":
      return `list(${describeType(t.elem)})`;
    case "map":
      return `map(string, ${describeType(t.value)})`;
    case "object":
      return t.name ? `object ${t.name}` : "object";
  }
}

export function isDyn(t: CheckType): boolean {
  return t.kind === "dyn" || t.kind === "never";
}

/** The type of a value that is either `a` or `b` (the branches of `?:`, the elements of a list). */
export function join(a: CheckType, b: CheckType): CheckType {
  if (a.kind === "never" || isNull(a)) return b;
  if (b.kind === "never" || isNull(b)) return a;
  if (a.kind === "dyn" || b.kind === "dyn") return DYN;
  if (a.kind === "scalar" && b.kind === "scalar") return a.name === b.name ? (a.maxLength === b.maxLength ? a : scalar(a.name)) : DYN;
  if (a.kind === "opaque" && b.kind === "opaque") return a.name === b.name ? a : DYN;
  if (a.kind === "list" && b.kind === "list") return list(join(a.elem, b.elem), a.maxItems === undefined || b.maxItems === undefined ? undefined : Math.max(a.maxItems, b.maxItems));
  if (a.kind === "map" && b.kind === "map") return { kind: "map", value: join(a.value, b.value) };
  if (a.kind === "object" && b.kind === "object") {
    const fields = new Map(a.fields);
    for (const [name, t] of b.fields) {
      const mine = fields.get(name);
      fields.set(name, mine ? join(mine, t) : t);
    }
    return object(a.name === b.name ? a.name : a.name || b.name, fields, a.open || b.open);
  }
  return DYN;
}

function isNull(t: CheckType): boolean {
  return t.kind === "scalar" && t.name === "null";
}

/** The type of the values iterated by a comprehension over `t`: list elements, map keys. */
export function elementOf(t: CheckType): CheckType {
  if (t.kind === "list") return t.elem.kind === "never" ? DYN : t.elem;
  if (t.kind === "map" || t.kind === "object") return STRING;
  return DYN;
}

/** @bufbuild/cel's declared parameter and result types, in these terms. */
export function fromCelType(t: CelType): CheckType {
  switch (t.kind) {
    case "scalar":
      return t.scalar === "dyn" ? DYN : t.scalar === "null_type" ? NULL : scalar(t.scalar as ScalarName);
    case "list":
      return list(fromCelType(t.element));
    case "map":
      return { kind: "map", value: fromCelType(t.value) };
    case "object":
      return { kind: "opaque", name: t.name };
    default:
      return DYN;
  }
}

/** Whether a value of type `actual` can be passed where a function declares `expected`. */
export function assignable(expected: CheckType, actual: CheckType): boolean {
  if (isDyn(expected) || isDyn(actual)) return true;
  switch (expected.kind) {
    case "scalar":
      return actual.kind === "scalar" && actual.name === expected.name;
    case "opaque":
      return actual.kind === "opaque" && actual.name === expected.name;
    case "list":
      return actual.kind === "list" && assignable(expected.elem, actual.elem);
    case "map":
      return actual.kind === "map" || actual.kind === "object";
    case "object":
      return actual.kind === "object";
    default:
      return true;
  }
}
