import { CelScalar, celType, isCelUint, listType, mapType } from "@bufbuild/cel";
import { CIDRType, IPType, QuantityType } from "../types.js";
import { Double, Foreign, Opaque, TypeBox, type Value } from "./values.js";

const { INT, UINT, DOUBLE, BOOL, STRING, BYTES, NULL, DYN, TYPE } = CelScalar;
const LIST = listType(DYN);
const MAP = mapType(DYN, DYN);
const OPAQUE = { "kubernetes.Quantity": QuantityType.cel, "net.IP": IPType.cel, "net.CIDR": CIDRType.cel } as const;

export type TypeValue = ReturnType<typeof celType>;

/** `type(v)`: the same type objects the interpreter returns, so both compare alike. */
export function typeOf(v: Value): TypeBox {
  return new TypeBox(typeObjectOf(v) as TypeBox["t"]);
}

function typeObjectOf(v: Value): TypeValue {
  if (v === null) return NULL;
  switch (typeof v) {
    case "boolean":
      return BOOL;
    case "string":
      return STRING;
    case "number":
      return Number.isInteger(v) ? INT : DOUBLE;
    case "bigint":
      return INT;
  }
  if (Array.isArray(v)) return LIST;
  if (v instanceof Double) return DOUBLE;
  if (v instanceof Uint8Array) return BYTES;
  if (isCelUint(v)) return UINT;
  if (v instanceof Opaque) return OPAQUE[v.kind];
  if (v instanceof Foreign) return celType(v.v);
  if (v instanceof TypeBox) return TYPE;
  return MAP;
}

/** The type names CEL expressions may use as values (`type(x) == string`). */
export const TYPE_IDENTS: ReadonlyMap<string, TypeValue> = new Map<string, TypeValue>([
  ["int", INT],
  ["uint", UINT],
  ["double", DOUBLE],
  ["bool", BOOL],
  ["string", STRING],
  ["bytes", BYTES],
  ["null_type", NULL],
  ["type", TYPE],
  ["list", LIST],
  ["map", MAP],
]);

/** How error messages name a value's type, as the interpreter does. */
export function typeName(v: Value): string {
  return typeObjectOf(v).name;
}
