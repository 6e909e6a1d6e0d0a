import { celList, celMap, celUint, isCelError, isCelList, isCelMap, isCelType, isCelUint, type CelUint, type CelValue } from "@bufbuild/cel";
import { CIDRType, IPType, QuantityType } from "../types.js";

/*
 * The compiled code's value model. Values are JSON as JSON.parse gave it wherever possible, so a
 * request is never converted as a whole:
 *
 *   null, bool, string   as JavaScript has them
 *   int                  a JavaScript number that is an integer (what JSON gives), or a bigint
 *                        beyond ±2^53 (results are normalised back to numbers when they fit)
 *   double               a number that is not an integer, or a Double box holding an integral
 *                        one, so that `type(1.0) == double` and `1 + 1.0` is an error
 *   uint                 @bufbuild/cel's CelUint
 *   bytes                Uint8Array
 *   list                 a JavaScript array, never mutated once built
 *   map                  a plain object (string keys, from JSON) or a Map (literals; keys normalised)
 *   type                 a TypeBox around @bufbuild/cel's type objects
 *   Quantity, IP, CIDR   an Opaque box holding the canonical text
 *   anything else        a Foreign box holding the interpreter's value (timestamps, messages)
 */
export type Value = null | boolean | number | bigint | string | Uint8Array | CelUint | readonly Value[] | PlainMap | ReadonlyMap<MapKey, Value> | Double | Opaque | Foreign | TypeBox;
export type PlainMap = { readonly [key: string]: Value };
export type MapKey = string | number | bigint | boolean;
type CelTypeValue = Extract<CelValue, { kind: string; name: string }>;

/**
 * A type value (`type(x)`, `int`), boxed so that no plain object of the model is anything but a
 * map: @bufbuild/cel's type values are object literals.
 */
export class TypeBox {
  constructor(readonly t: CelTypeValue) {}
}

/** A double whose value happens to be integral (plain numbers that are integers read as int). */
export class Double {
  constructor(readonly v: number) {}
}

/** A double result, boxed only when JavaScript would otherwise read it as an int. */
export function double(v: number): number | Double {
  return Number.isInteger(v) ? new Double(v) : v;
}

export type OpaqueKind = "kubernetes.Quantity" | "net.IP" | "net.CIDR";

/** Kubernetes' opaque CEL types, carried as their canonical text (the library's representation). */
export class Opaque {
  constructor(
    readonly kind: OpaqueKind,
    readonly text: string,
  ) {}
}

/** A value only the interpreter understands, passed through untouched. */
export class Foreign {
  constructor(readonly v: CelValue) {}
}

/** A CEL error, thrown through the generated code. Not an Error: throwing it captures no stack. */
export class CelFault {
  constructor(readonly message: string) {}
}

export const MAX_INT = (1n << 63n) - 1n;
export const MIN_INT = -(1n << 63n);
export const MAX_UINT = (1n << 64n) - 1n;

export function isPlainMap(v: unknown): v is PlainMap {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An int of the value model as a bigint (the caller has checked it is an int). */
export function big(v: number | bigint): bigint {
  return typeof v === "bigint" ? v : BigInt(v);
}

/** Normalises an exact integer result: range-checked, a number when it is one exactly. */
export function intOf(v: bigint, op: string): number | bigint {
  if (v > MAX_INT || v < MIN_INT) throw new CelFault(`int overflow during ${op}`);
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

export function isInt(v: unknown): v is number | bigint {
  return typeof v === "number" ? Number.isInteger(v) : typeof v === "bigint";
}

export function isDouble(v: unknown): v is number | Double {
  return typeof v === "number" ? !Number.isInteger(v) : v instanceof Double;
}

/**
 * Normalises a map key: numbers of any CEL type that are equal give the same key. A double is a
 * key only to look one up (`m[3.0]`), never in a map literal.
 */
export function mapKey(k: Value, lookup = false): MapKey | undefined {
  if (lookup && k instanceof Double) return mapKey(k.v);
  switch (typeof k) {
    case "string":
    case "boolean":
      return k;
    case "number":
      return Number.isInteger(k) ? (Number.isSafeInteger(k) ? k : BigInt(k)) : undefined;
    case "bigint":
      return k;
  }
  if (isCelUint(k)) return normalInt(k.value);
  return undefined;
}

function normalInt(v: bigint): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

const opaqueTypes = { "kubernetes.Quantity": QuantityType, "net.IP": IPType, "net.CIDR": CIDRType } as const;

/** Converts a compiled-code value to the interpreter's, at the fallback boundary. */
export function toInterpreter(v: Value | undefined): CelValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "number":
      return Number.isInteger(v) ? BigInt(v) : v;
    case "string":
    case "boolean":
    case "bigint":
      return v;
  }
  if (Array.isArray(v)) return celList(v.map(toInterpreter));
  if (v instanceof Double) return v.v;
  if (v instanceof Opaque) return opaqueTypes[v.kind].wrap(v.text) as unknown as CelValue;
  if (v instanceof Foreign) return v.v;
  if (v instanceof TypeBox) return v.t;
  if (v instanceof Uint8Array || isCelUint(v)) return v as CelValue;
  if (v instanceof Map) {
    const m = new Map<bigint | string | boolean | CelUint, CelValue>();
    for (const [k, x] of v as ReadonlyMap<MapKey, Value>) m.set(typeof k === "number" ? BigInt(k) : k, toInterpreter(x));
    return celMap(m);
  }
  const m = new Map<string, CelValue>();
  const o = v as PlainMap;
  for (const k in o) if (Object.hasOwn(o, k)) m.set(k, toInterpreter(o[k]));
  return celMap(m);
}

/** Converts an interpreter value back; a CEL error becomes a thrown CelFault. */
export function fromInterpreter(v: CelValue): Value {
  if (v === null) return null;
  switch (typeof v) {
    case "number":
      return double(v);
    case "bigint":
      return normalInt(v);
    case "string":
    case "boolean":
      return v;
  }
  if (isCelError(v)) throw new CelFault(v.message);
  if (isCelType(v)) return new TypeBox(v as CelTypeValue);
  if (v instanceof Uint8Array || isCelUint(v)) return v as Value;
  if (isCelList(v)) return Array.from(v, fromInterpreter);
  if (isCelMap(v)) {
    const m = new Map<MapKey, Value>();
    for (const [k, x] of v) m.set(isCelUint(k) ? normalInt(k.value) : typeof k === "bigint" ? normalInt(k) : k, fromInterpreter(x));
    return m;
  }
  const typeName = (v as { desc?: { typeName?: string } }).desc?.typeName ?? (v as { $typeName?: string }).$typeName;
  if (typeName && typeName in opaqueTypes) {
    const kind = typeName as OpaqueKind;
    return new Opaque(kind, opaqueTypes[kind].unwrap(v));
  }
  return new Foreign(v);
}

export function uint(v: bigint, op: string): CelUint {
  if (v < 0n || v > MAX_UINT) throw new CelFault(`uint overflow during ${op}`);
  return celUint(v);
}

/** A value as JSON, for values that leave the engine (test output, lookup keys, logs). */
export function toJson(v: Value): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof Double) return v.v;
  if (v instanceof Opaque) return v.text;
  if (v instanceof TypeBox) return v.t.name;
  if (isCelUint(v)) return Number(v.value);
  if (v instanceof Map) return Object.fromEntries([...(v as ReadonlyMap<MapKey, Value>)].map(([k, x]) => [String(k), toJson(x)]));
  if (isPlainMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return String(v);
}
