import { isCelUint } from "@bufbuild/cel";
import { LIBRARY, type ArgType, type Overload } from "../library.js";
import { regex } from "../regex.js";
import type { EvaluationBudget } from "../../budget.js";
import { interpreterCall } from "./fallback.js";
import { codePoints, size } from "./operators.js";
import { typeOf } from "./types.js";
import { CelFault, double, Double, intOf, isDouble, isInt, Opaque, type Value } from "./values.js";

/*
 * Function calls of the generated code. Each call site gets a dispatcher, chosen once at compile
 * time from the function's name, form (function or method) and arity: the standard functions
 * policies use in their hot paths are native, the library's overloads are picked by the
 * arguments' runtime types, and anything else goes to the interpreter.
 */

export type Call = (budget: EvaluationBudget, ...args: Value[]) => Value;


function accepts(t: ArgType, v: Value): boolean {
  switch (t) {
    case "dyn":
      return true;
    case "string":
      return typeof v === "string";
    case "int":
      return isInt(v);
    case "double":
      return isDouble(v);
    case "bool":
      return typeof v === "boolean";
    case "list":
      return Array.isArray(v);
    default:
      return v instanceof Opaque && v.kind === t;
  }
}

function wrapError(err: unknown): never {
  if (err instanceof Error && err.name !== "BudgetExceededError") throw new CelFault(err.message);
  throw err;
}

/** Picks among the library's overloads of one name and arity by the arguments' runtime types. */
function libraryDispatch(overloads: readonly Overload[], fallback: Call): Call {
  const table = overloads.map((o) => ({ types: o.receiver ? [o.receiver, ...o.args] : [...o.args], impl: o.impl as (...a: Value[]) => Value }));
  // Arities are at most three (a method with two arguments): fixed parameters, no rest array.
  return (budget, a, b, c) => {
    // Charged before the call, as the interpreter's metering does: a library function walks what
    // it is handed (and charges any work beyond that itself).
    budget.charge(1 + handed(a) + handed(b) + handed(c));
    for (const o of table) {
      const t = o.types;
      if (t.length > 0 && !accepts(t[0] as ArgType, a as Value)) continue;
      if (t.length > 1 && !accepts(t[1] as ArgType, b as Value)) continue;
      if (t.length > 2 && !accepts(t[2] as ArgType, c as Value)) continue;
      try {
        return o.impl(a as Value, b as Value, c as Value);
      } catch (err) {
        wrapError(err);
      }
    }
    return t3(fallback, budget, a, b, c);
  };
}

/** Units for one argument of a library call: a list's items, a string's bytes by 64. */
function handed(v: Value | undefined): number {
  if (Array.isArray(v)) return v.length;
  if (typeof v === "string") return v.length >> 6;
  return 0;
}

/** Calls with the arguments that were given (an arity-2 call passes two, not three). */
function t3(call: Call, budget: EvaluationBudget, a: Value | undefined, b: Value | undefined, c: Value | undefined): Value {
  return c !== undefined ? call(budget, a as Value, b as Value, c) : b !== undefined ? call(budget, a as Value, b) : a !== undefined ? call(budget, a) : call(budget);
}

const viaInterpreter =
  (name: string, member: boolean): Call =>
  (_budget, ...args) =>
    interpreterCall(name, member, args);

/** A string method of the standard library; other receivers go to `fallback`. */
function stringMethod(f: (s: string, arg: string) => boolean, fallback: Call): Call {
  return (budget, s, arg) => {
    if (typeof s === "string" && typeof arg === "string") {
      budget.charge(1 + (s.length >> 6));
      return f(s, arg);
    }
    return fallback(budget, s as Value, arg as Value);
  };
}

function toInt(v: Value): Value | undefined {
  if (isInt(v)) return v;
  if (typeof v === "number" || v instanceof Double) {
    const d = typeof v === "number" ? v : v.v;
    // The open range (-2^63, 2^63), as the interpreter converts doubles.
    if (!(d > -9223372036854775808 && d < 9223372036854775808)) throw new CelFault("int overflow during type conversion");
    const t = Math.trunc(d);
    return Number.isSafeInteger(t) ? t : BigInt(t);
  }
  return undefined;
}

function toStringValue(v: Value): Value | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
    case "bigint":
      return String(v);
  }
  if (v instanceof Double) return String(v.v);
  if (isCelUint(v)) return String(v.value);
  return undefined;
}

function toDouble(v: Value): Value | undefined {
  if (isDouble(v)) return v;
  if (typeof v === "number" || typeof v === "bigint") return double(Number(v));
  return undefined;
}

/** `int(s)`: the interpreter parses with BigInt (so "0x10" and " 7 " are ints too). */
function parseInt64(s: string): Value {
  let v: bigint;
  try {
    v = BigInt(s);
  } catch {
    throw new CelFault(`cannot convert "${s}" to int`);
  }
  return intOf(v, "type conversion");
}

const ASCII_LOWER = /[a-z]+/g;
const ASCII_UPPER = /[A-Z]+/g;

/** Index arguments of the strings extension count UTF-16 units, as the interpreter's do. */
function bound(i: Value, length: number): number | undefined {
  if (!isInt(i)) return undefined;
  const n = Number(i);
  return n >= 0 && n <= length ? n : undefined;
}

/** Functions whose common cases are native; `next` handles the rest. */
function native(name: string, member: boolean, arity: number, next: Call): Call | undefined {
  const key = `${member ? "." : ""}${name}/${arity}`;
  switch (key) {
    case ".contains/2":
      return stringMethod((s, a) => s.includes(a), next);
    case ".startsWith/2":
      return stringMethod((s, a) => s.startsWith(a), next);
    case ".endsWith/2":
      return stringMethod((s, a) => s.endsWith(a), next);
    case ".matches/2":
    case "matches/2":
      return stringMethod((s, a) => regex(a).test(s), next);
    case "size/1":
    case ".size/1":
      return (_b, x) => size(x as Value);
    case "type/1":
      return (_b, x) => typeOf(x as Value);
    case "dyn/1":
      return (_b, x) => x as Value;
    case "int/1":
      return (b, x) => (typeof x === "string" ? parseInt64(x) : (toInt(x as Value) ?? next(b, x as Value)));
    case "double/1":
      return (b, x) => toDouble(x as Value) ?? next(b, x as Value);
    case "string/1":
      return (b, x) => toStringValue(x as Value) ?? next(b, x as Value);
    // The strings extension, for the forms policies use; anything else (errors included) the interpreter answers.
    case ".substring/2":
      return (b, s, i) => {
        const n = typeof s === "string" ? bound(i as Value, s.length) : undefined;
        return n === undefined ? next(b, s as Value, i as Value) : (s as string).substring(n);
      };
    case ".substring/3":
      return (b, s, i, j) => {
        const m = typeof s === "string" ? bound(i as Value, s.length) : undefined;
        const n = typeof s === "string" ? bound(j as Value, s.length) : undefined;
        return m === undefined || n === undefined || m > n ? next(b, s as Value, i as Value, j as Value) : (s as string).substring(m, n);
      };
    case ".replace/3":
      return (b, s, from, to) => {
        if (typeof s !== "string" || typeof from !== "string" || typeof to !== "string" || from === "") return next(b, s as Value, from as Value, to as Value);
        b.charge(1 + (s.length >> 6));
        return s.split(from).join(to);
      };
    case ".split/2":
      return (b, s, sep) => {
        if (typeof s !== "string" || typeof sep !== "string") return next(b, s as Value, sep as Value);
        b.charge(1 + (s.length >> 6));
        return s.split(sep);
      };
    case ".upperAscii/1":
      return (b, s) => (typeof s === "string" ? s.replace(ASCII_LOWER, (m) => m.toUpperCase()) : next(b, s as Value));
    case ".lowerAscii/1":
      return (b, s) => (typeof s === "string" ? s.replace(ASCII_UPPER, (m) => m.toLowerCase()) : next(b, s as Value));
    case ".join/1":
    case ".join/2":
      return (b, list, sep) => {
        if (!Array.isArray(list) || (sep !== undefined && typeof sep !== "string") || !list.every((x) => typeof x === "string")) {
          return sep === undefined ? next(b, list as Value) : next(b, list as Value, sep as Value);
        }
        b.charge(1 + list.length);
        return list.join(sep ?? "");
      };
    case ".indexOf/2":
    case ".lastIndexOf/2":
      return (b, s, sub) => {
        if (typeof s !== "string" || typeof sub !== "string") return next(b, s as Value, sub as Value);
        b.charge(1 + (s.length >> 6));
        return name === "indexOf" ? s.indexOf(sub) : s.lastIndexOf(sub);
      };
  }
  return undefined;
}

const calls = new Map<string, Call>();

/** The dispatcher for calls of `name` (a method when `member`) with `arity` values, receiver included. */
export function dispatcher(name: string, member: boolean, arity: number): Call {
  const key = `${member ? "." : ""}${name}/${arity}`;
  let call = calls.get(key);
  if (!call) {
    const overloads = LIBRARY.filter((o) => o.name === name && !!o.receiver === member && o.args.length + (member ? 1 : 0) === arity);
    let next = viaInterpreter(name, member);
    if (overloads.length) next = libraryDispatch(overloads, next);
    call = native(name, member, arity, next) ?? next;
    calls.set(key, call);
  }
  return call;
}

/** Whether the library defines a function by this (possibly namespaced) name. */
export function isLibraryFunction(name: string): boolean {
  return LIBRARY.some((o) => o.name === name);
}

export { codePoints };
