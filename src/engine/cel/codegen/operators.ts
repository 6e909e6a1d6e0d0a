import { isCelUint, type CelUint } from "@bufbuild/cel";
import type { EvaluationBudget } from "../../budget.js";
import { interpreterCall, noOverload } from "./fallback.js";
import { typeName } from "./types.js";
import { big, CelFault, double, Double, Foreign, intOf, isInt, isPlainMap, mapKey, Opaque, TypeBox, uint, type MapKey, type PlainMap, type Value } from "./values.js";

/*
 * CEL's operators on the compiled value model. Each has a fast path for what policies compare
 * (JSON numbers, strings) and a slow path covering the rest of CEL's overloads; values the model
 * cannot represent go to the interpreter.
 */

const foreign = (a: Value, b: Value) => a instanceof Foreign || b instanceof Foreign;

// ---- equality ----

export function eq(a: Value, b: Value): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === "string" || ta === "boolean" || a === null) return false;
  // `x == null` and comparisons with a string or bool literal: nothing else equals them, and only
  // the interpreter's own values need asking.
  const tb = typeof b;
  if ((b === null || tb === "string" || tb === "boolean") && !(a instanceof Foreign)) return false;
  // Two plain numbers that are not identical differ, NaN included (an integral double is boxed).
  if (ta === "number" && tb === "number") return false;
  return eqSlow(a, b);
}

function numeric(v: Value): number | bigint | undefined {
  if (typeof v === "number" || typeof v === "bigint") return v;
  if (v instanceof Double) return v.v;
  if (isCelUint(v)) return v.value;
  return undefined;
}

function eqSlow(a: Value, b: Value): boolean {
  const na = numeric(a);
  if (na !== undefined) {
    const nb = numeric(b);
    // Loose equality compares a number and a bigint by mathematical value, NaN unequal.
    return nb !== undefined && na == nb;
  }
  if (Array.isArray(a)) return containersEqual(a, b);
  if (a instanceof Uint8Array) return b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  if (a instanceof Opaque) return b instanceof Opaque && a.kind === b.kind && a.text === b.text;
  if (foreign(a, b)) return interpreterCall("_==_", false, [a, b]) === true;
  if (a instanceof TypeBox) return b instanceof TypeBox && a.t.kind === b.t.kind && a.t.name === b.t.name;
  if (isMap(a)) return containersEqual(a, b);
  return false;
}

/**
 * Lists and maps compared with a stack of pairs rather than by recursion: a request may nest
 * objects 10,000 levels deep, past what the call stack holds.
 */
function containersEqual(first: Value, other: Value): boolean {
  const pending: Value[] = [first, other];
  while (pending.length > 0) {
    const b = pending.pop() as Value;
    const a = pending.pop() as Value;
    if (a === b) continue;
    if (Array.isArray(a)) {
      if (!Array.isArray(b) || a.length !== b.length) return false;
      for (let i = 0; i < a.length; i++) pending.push(a[i] as Value, b[i] as Value);
    } else if (isMap(a)) {
      if (b instanceof Foreign) {
        if (interpreterCall("_==_", false, [a, b]) !== true) return false;
        continue;
      }
      if (!isMap(b) || mapSize(a) !== mapSize(b)) return false;
      for (const [k, v] of mapEntries(a)) {
        const w = mapGet(b, k);
        if (w === undefined) return false;
        pending.push(v, w);
      }
    } else if (!eq(a, b)) return false;
  }
  return true;
}

export function isMap(v: Value): v is PlainMap | ReadonlyMap<MapKey, Value> {
  return v instanceof Map || isPlainMap(v);
}

function mapSize(m: PlainMap | ReadonlyMap<MapKey, Value>): number {
  return m instanceof Map ? m.size : Object.keys(m).length;
}

function* mapEntries(m: PlainMap | ReadonlyMap<MapKey, Value>): Iterable<[MapKey, Value]> {
  if (m instanceof Map) yield* (m as ReadonlyMap<MapKey, Value>).entries();
  else for (const k of Object.keys(m)) yield [k, (m as PlainMap)[k] as Value];
}

/** A map's value for a key, undefined when absent (no CEL value is undefined). */
export function mapGet(m: PlainMap | ReadonlyMap<MapKey, Value>, key: Value): Value | undefined {
  if (m instanceof Map) {
    const k = mapKey(key, true);
    return k === undefined ? undefined : (m as ReadonlyMap<MapKey, Value>).get(k);
  }
  return typeof key === "string" && Object.hasOwn(m, key) ? (m as PlainMap)[key] : undefined;
}

// ---- ordering ----

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** `a OP b` for <, <=, >, >= as a three-way comparison; NaN compares as unordered. */
function order(op: string, a: Value, b: Value): number {
  const ta = typeof a;
  if (ta === typeof b && (ta === "string" || ta === "boolean")) return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== undefined && nb !== undefined) {
    // Mixed int/double comparisons go through doubles, as the interpreter does.
    const x = typeof na === typeof nb ? na : Number(na);
    const y = typeof na === typeof nb ? nb : Number(nb);
    return x < y ? -1 : x > y ? 1 : x === y || x == y ? 0 : NaN;
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  if (foreign(a, b)) {
    const r = interpreterCall(op, false, [a, b]);
    return r === true ? (op === "_<_" || op === "_<=_" ? -1 : 1) : op === "_<_" || op === "_<=_" ? 1 : -1;
  }
  throw noOverload(op, [a, b]);
}

export function lt(a: Value, b: Value): boolean {
  if (typeof a === "number" && typeof b === "number") return a < b;
  return order("_<_", a, b) < 0;
}
export function le(a: Value, b: Value): boolean {
  if (typeof a === "number" && typeof b === "number") return a <= b;
  return order("_<=_", a, b) <= 0;
}
export function gt(a: Value, b: Value): boolean {
  if (typeof a === "number" && typeof b === "number") return a > b;
  return order("_>_", a, b) > 0;
}
export function ge(a: Value, b: Value): boolean {
  if (typeof a === "number" && typeof b === "number") return a >= b;
  return order("_>=_", a, b) >= 0;
}

// ---- arithmetic ----

type Num = "int" | "uint" | "double" | undefined;

function numKind(v: Value): Num {
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "double";
  if (typeof v === "bigint") return "int";
  if (v instanceof Double) return "double";
  if (isCelUint(v)) return "uint";
  return undefined;
}

const dbl = (v: Value) => (typeof v === "number" ? v : (v as Double).v);

/** Applies an arithmetic operator whose operands are numbers of one kind. */
function arith(op: string, name: string, a: Value, b: Value, ints: (x: bigint, y: bigint) => bigint, doubles: (x: number, y: number) => number): Value {
  const k = numKind(a);
  if (k !== undefined && k === numKind(b)) {
    if (k === "double") return double(doubles(dbl(a), dbl(b)));
    if (k === "int") return intOf(ints(big(a as number | bigint), big(b as number | bigint)), name);
    return uint(ints((a as CelUint).value, (b as CelUint).value), name);
  }
  if (foreign(a, b)) return interpreterCall(op, false, [a, b]);
  throw noOverload(op, [a, b]);
}

export function add(a: Value, b: Value, budget: EvaluationBudget): Value {
  if (typeof a === "number" && typeof b === "number") {
    const ia = Number.isInteger(a);
    if (ia === Number.isInteger(b)) {
      const r = a + b;
      if (!ia) return double(r);
      if (Number.isSafeInteger(r)) return r;
    }
  }
  if (typeof a === "string" && typeof b === "string") {
    budget.charge(1 + ((a.length + b.length) >> 4));
    return a + b;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    budget.charge(1 + a.length + b.length);
    return a.length === 0 ? b : b.length === 0 ? a : (a as Value[]).concat(b as Value[]);
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const r = new Uint8Array(a.length + b.length);
    r.set(a);
    r.set(b, a.length);
    return r;
  }
  return arith("_+_", "addition", a, b, (x, y) => x + y, (x, y) => x + y);
}

export function sub(a: Value, b: Value): Value {
  if (typeof a === "number" && typeof b === "number" && Number.isInteger(a) && Number.isInteger(b)) {
    const r = a - b;
    if (Number.isSafeInteger(r)) return r;
  }
  return arith("_-_", "subtraction", a, b, (x, y) => x - y, (x, y) => x - y);
}

export function mul(a: Value, b: Value): Value {
  if (typeof a === "number" && typeof b === "number" && Number.isInteger(a) && Number.isInteger(b)) {
    const r = a * b;
    // A safe result is exact: a product past 2^53 cannot round back into the safe range.
    if (Number.isSafeInteger(r)) return r === 0 ? 0 : r;
  }
  return arith("_*_", "multiplication", a, b, (x, y) => x * y, (x, y) => x * y);
}

export function div(a: Value, b: Value): Value {
  const k = numKind(a);
  if (k !== "double" && k !== undefined && k === numKind(b)) {
    const y = k === "int" ? big(b as number | bigint) : (b as CelUint).value;
    if (y === 0n) throw new CelFault(`${k} divide by zero`);
  }
  return arith("_/_", "division", a, b, (x, y) => x / y, (x, y) => x / y);
}

export function mod(a: Value, b: Value): Value {
  const k = numKind(a);
  if (k === "double" && numKind(b) === "double") throw noOverload("_%_", [a, b]);
  if (k !== undefined && k === numKind(b)) {
    const y = k === "int" ? big(b as number | bigint) : (b as CelUint).value;
    if (y === 0n) throw new CelFault(`${k} modulus by zero`);
  }
  return arith("_%_", "modulus", a, b, (x, y) => x % y, (x, y) => x % y);
}

export function neg(a: Value): Value {
  if (typeof a === "number") return Number.isInteger(a) ? (a === 0 ? 0 : Number.isSafeInteger(a) ? -a : intOf(-BigInt(a), "negation")) : -a;
  if (typeof a === "bigint") return intOf(-a, "negation");
  if (a instanceof Double) return double(-a.v);
  if (a instanceof Foreign) return interpreterCall("-_", false, [a]);
  throw noOverload("-_", [a]);
}

export function not(a: Value): boolean {
  if (typeof a === "boolean") return !a;
  throw noOverload("!_", [a]);
}

// ---- access ----

export function noSuchKey(key: Value): CelFault {
  return new CelFault(`field not found: ${typeof key === "string" ? key : String(key)}`);
}

/** `x.f`: a map's value; a missing key is an error. */
export function select(x: Value, f: string): Value {
  if (isPlainMap(x)) {
    if (Object.hasOwn(x, f)) return x[f] as Value;
    throw noSuchKey(f);
  }
  if (x instanceof Map) {
    const v = (x as ReadonlyMap<MapKey, Value>).get(f);
    if (v === undefined) throw noSuchKey(f);
    return v;
  }
  throw new CelFault(`type '${typeName(x)}' does not support field selection`);
}

/**
 * `has(x.f)`: false on anything but a map holding the key. A key whose value is null reads as
 * absent, as in the interpreter (and as the API server, which prunes nulls, would store it).
 */
export function has(x: Value, f: string): boolean {
  if (isPlainMap(x)) return Object.hasOwn(x, f) && x[f] !== null;
  if (x instanceof Map) return ((x as ReadonlyMap<MapKey, Value>).get(f) ?? null) !== null;
  return false;
}

function listIndex(i: Value, length: number): number {
  let n: number;
  if (typeof i === "number" || typeof i === "bigint") n = Number(i);
  else if (i instanceof Double) n = i.v;
  else if (isCelUint(i)) n = Number(i.value);
  else throw new CelFault("unsupported index type");
  if (!Number.isInteger(n)) throw new CelFault("unsupported index type");
  if (n < 0 || n >= length) throw new CelFault(`index ${n} out of bounds [0, ${length})`);
  return n;
}

/** `x[i]`. */
export function index(x: Value, i: Value): Value {
  if (Array.isArray(x)) return x[listIndex(i, x.length)] as Value;
  if (isMap(x)) {
    const v = mapGet(x, i);
    if (v === undefined) {
      if (mapKey(i) === undefined && !(i instanceof Double)) throw new CelFault("unsupported key type");
      throw noSuchKey(i);
    }
    return v;
  }
  if (x instanceof Foreign || i instanceof Foreign) return interpreterCall("_[_]", false, [x, i]);
  throw noOverload("_[_]", [x, i]);
}

/** `e in c`. */
export function inside(e: Value, c: Value, budget: EvaluationBudget): boolean {
  if (Array.isArray(c)) {
    budget.charge(1 + c.length);
    if (typeof e === "string") return c.includes(e);
    for (let i = 0; i < c.length; i++) if (eq(c[i] as Value, e)) return true;
    return false;
  }
  if (isMap(c)) {
    if (typeof e !== "string" && typeof e !== "number" && typeof e !== "bigint" && typeof e !== "boolean" && !(e instanceof Double) && !isCelUint(e)) throw noOverload("@in", [e, c]);
    // A key holding null reads as absent, as has() does.
    return (mapGet(c, e) ?? null) !== null;
  }
  if (c instanceof Foreign) return interpreterCall("@in", false, [e, c]) === true;
  throw noOverload("@in", [e, c]);
}

/** The number of Unicode code points of a string, as CEL counts it. */
export function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

export function size(x: Value): number {
  if (typeof x === "string") return codePoints(x);
  if (Array.isArray(x)) return x.length;
  if (x instanceof Uint8Array) return x.length;
  if (isMap(x)) return mapSize(x);
  if (x instanceof Foreign) return interpreterCall("size", false, [x]) as number;
  throw noOverload("size", [x]);
}

/** Iterates a comprehension's range: list elements, or map keys. */
export function rangeOf(x: Value): readonly Value[] {
  if (Array.isArray(x)) return x;
  if (x instanceof Map) return [...(x as ReadonlyMap<MapKey, Value>).keys()];
  if (isPlainMap(x)) return Object.keys(x);
  throw new CelFault(`type mismatch: iterable vs ${typeName(x)}`);
}

/** Builds a map literal; a repeated key is an error, as in the interpreter. */
export function mapOf(entries: readonly Value[]): ReadonlyMap<MapKey, Value> {
  const m = new Map<MapKey, Value>();
  for (let i = 0; i < entries.length; i += 2) {
    const k = mapKey(entries[i] as Value);
    if (k === undefined) throw new CelFault("unsupported key type");
    if (m.has(k)) throw new CelFault(`map key conflict: ${String(entries[i])}`);
    m.set(k, entries[i + 1] as Value);
  }
  return m;
}

export { isInt };
