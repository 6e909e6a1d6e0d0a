import * as q from "./quantity.js";
import * as net from "./net.js";
import { ParseCache } from "./parse-cache.js";
import { quantityValue } from "./quantity-value.js";
import { regex } from "./regex.js";
import { isCelUint } from "@bufbuild/cel";
import { eq } from "./codegen/operators.js";
import { charge } from "./metering.js";
import { big, Double, intOf, Opaque, type Value } from "./codegen/values.js";

/*
 * The Kubernetes CEL libraries virtguard offers (quantity, ip/cidr, lists, regex) plus its own
 * quantityValue(), written once against the compiled code's value model (ints as numbers,
 * lists as arrays, opaque values as canonical text). The interpreter registers the same table
 * through an adapter (interpreter-library.ts), so both paths run one implementation.
 */

/** The argument types overloads are chosen by. */
export type ArgType = "string" | "int" | "double" | "bool" | "list" | "dyn" | Opaque["kind"];

export interface Overload {
  readonly name: string;
  /** Set for methods (`x.f()`): the receiver's type, passed as the first argument. */
  readonly receiver?: ArgType;
  readonly args: readonly ArgType[];
  readonly result: ArgType;
  readonly impl: (...args: never[]) => Value;
}

/** Whether text parses, answered from the cache: policies test the same values again and again. */
function parses<T>(cache: ParseCache<T>, text: string): boolean {
  try {
    cache.get(text);
    return true;
  } catch {
    return false;
  }
}

const quantities = new ParseCache(q.parseQuantity);
/** `quantity(s)` as a CEL value, by text: a policy reads the same few sizes on every request. */
const quantityValues = new ParseCache((s: string) => qWrap(q.parseQuantity(s)));
const canonicalQuantities = new ParseCache(q.parseCanonicalKey);
const ips = net.IP_CACHE;
const cidrs = net.CIDR_CACHE;

const qOf = (v: Opaque) => canonicalQuantities.get(v.text);
const qWrap = (v: q.QuantityValue) => new Opaque("kubernetes.Quantity", q.canonicalKey(v));
const ipOf = (v: Opaque) => ips.get(v.text);
const cidrOf = (v: Opaque) => cidrs.get(v.text);
const ipWrap = (v: net.IPValue) => new Opaque("net.IP", net.formatIP(v));
const cidrWrap = (v: net.CIDRValue) => new Opaque("net.CIDR", net.formatCIDR(v));
const int = (v: bigint | number) => (typeof v === "number" ? v : intOf(v, "conversion"));

type Int = number | bigint;
const Q = "kubernetes.Quantity";
const IP = "net.IP";
const CIDR = "net.CIDR";

function fn<A extends unknown[]>(name: string, args: ArgType[], result: ArgType, impl: (...a: A) => Value): Overload {
  return { name, args, result, impl: impl as unknown as Overload["impl"] };
}
function method<R, A extends unknown[]>(name: string, receiver: ArgType, args: ArgType[], result: ArgType, impl: (self: R, ...a: A) => Value): Overload {
  return { name, receiver, args, result, impl: impl as unknown as Overload["impl"] };
}

const quantityFuncs: Overload[] = [
  fn("quantity", ["string"], Q, (s: string) => quantityValues.get(s)),
  fn("isQuantity", ["string"], "bool", (s: string) => parses(quantities, s)),
  fn("string", [Q], "string", (v: Opaque) => q.formatQuantity(qOf(v))),
  method("sign", Q, [], "int", (v: Opaque) => {
    const n = qOf(v).num;
    return n > 0n ? 1 : n < 0n ? -1 : 0;
  }),
  method("isInteger", Q, [], "bool", (v: Opaque) => q.isIntegerQuantity(qOf(v))),
  method("asInteger", Q, [], "int", (v: Opaque) => int(q.quantityAsInteger(qOf(v)))),
  method("asApproximateFloat", Q, [], "double", (v: Opaque) => {
    const f = q.quantityAsFloat(qOf(v));
    return Number.isInteger(f) ? new Double(f) : f;
  }),
  method("add", Q, [Q], Q, (v: Opaque, o: Opaque) => qWrap(q.addQuantity(qOf(v), qOf(o)))),
  method("add", Q, ["int"], Q, (v: Opaque, n: Int) => qWrap(q.addQuantity(qOf(v), q.fromInteger(big(n))))),
  method("sub", Q, [Q], Q, (v: Opaque, o: Opaque) => qWrap(q.addQuantity(qOf(v), q.negateQuantity(qOf(o))))),
  method("sub", Q, ["int"], Q, (v: Opaque, n: Int) => qWrap(q.addQuantity(qOf(v), q.fromInteger(-big(n))))),
  method("mul", Q, ["int"], Q, (v: Opaque, n: Int) => qWrap(q.multiplyQuantity(qOf(v), big(n)))),
  method("divInt", Q, ["int"], Q, (v: Opaque, n: Int) => qWrap(q.divideQuantityInteger(qOf(v), big(n)))),
  method("isLessThan", Q, [Q], "bool", (v: Opaque, o: Opaque) => q.compareQuantity(qOf(v), qOf(o)) < 0),
  method("isGreaterThan", Q, [Q], "bool", (v: Opaque, o: Opaque) => q.compareQuantity(qOf(v), qOf(o)) > 0),
  method("compareTo", Q, [Q], "int", (v: Opaque, o: Opaque) => q.compareQuantity(qOf(v), qOf(o))),
  fn("quantityValue", ["string"], "int", (s: string) => int(quantityValue(s))),
  fn("quantityValue", ["int"], "int", (n: Int) => n),
  fn("quantityValue", ["double"], "int", (d: number | Double) => int(quantityValue(typeof d === "number" ? d : d.v))),
];

const ipFuncs: Overload[] = [
  fn("ip", ["string"], IP, (s: string) => ipWrap(ips.get(s))),
  fn("isIP", ["string"], "bool", (s: string) => parses(ips, s)),
  fn("ip.isCanonical", ["string"], "bool", (s: string) => net.formatIP(ips.get(s)) === s),
  fn("string", [IP], "string", (v: Opaque) => v.text),
  method("family", IP, [], "int", (v: Opaque) => ipOf(v).family),
  method("isUnspecified", IP, [], "bool", (v: Opaque) => net.isUnspecified(ipOf(v))),
  method("isLoopback", IP, [], "bool", (v: Opaque) => net.isLoopback(ipOf(v))),
  method("isLinkLocalMulticast", IP, [], "bool", (v: Opaque) => net.isLinkLocalMulticast(ipOf(v))),
  method("isLinkLocalUnicast", IP, [], "bool", (v: Opaque) => net.isLinkLocalUnicast(ipOf(v))),
  method("isGlobalUnicast", IP, [], "bool", (v: Opaque) => net.isGlobalUnicast(ipOf(v))),
  fn("cidr", ["string"], CIDR, (s: string) => cidrWrap(cidrs.get(s))),
  fn("isCIDR", ["string"], "bool", (s: string) => parses(cidrs, s)),
  fn("string", [CIDR], "string", (v: Opaque) => v.text),
  method("containsIP", CIDR, [IP], "bool", (c: Opaque, ip: Opaque) => net.cidrContainsIP(cidrOf(c), ipOf(ip))),
  method("containsIP", CIDR, ["string"], "bool", (c: Opaque, ip: string) => net.cidrContainsIP(cidrOf(c), ips.get(ip))),
  method("containsCIDR", CIDR, [CIDR], "bool", (c: Opaque, o: Opaque) => net.cidrContainsCIDR(cidrOf(c), cidrOf(o))),
  method("containsCIDR", CIDR, ["string"], "bool", (c: Opaque, o: string) => net.cidrContainsCIDR(cidrOf(c), cidrs.get(o))),
  // Not in Kubernetes' library: the overlap test the DVP subnet rules need, nesting included.
  method("overlaps", CIDR, [CIDR], "bool", (c: Opaque, o: Opaque) => net.cidrsOverlap(cidrOf(c), cidrOf(o))),
  method("overlaps", CIDR, ["string"], "bool", (c: Opaque, o: string) => net.cidrsOverlap(cidrOf(c), cidrs.get(o))),
  // Not in Kubernetes' library: overlaps within a list in n·log n, where .overlaps() pairwise is quadratic.
  fn("cidr.overlappingPairs", ["list"], "list", (list: List) => {
    const parsed: { range: net.CIDRValue; item: string }[] = [];
    for (const item of list) {
      if (typeof item !== "string") continue;
      try {
        parsed.push({ range: cidrs.get(item), item });
      } catch {
        // Not a CIDR: policies report those on their own, with isCIDR().
      }
    }
    return net.overlappingPairs(parsed);
  }),
  method("ip", CIDR, [], IP, (c: Opaque) => ipWrap(cidrOf(c).ip)),
  method("masked", CIDR, [], CIDR, (c: Opaque) => cidrWrap(net.maskedCIDR(cidrOf(c)))),
  method("prefixLength", CIDR, [], "int", (c: Opaque) => cidrOf(c).prefix),
];

type Comparable = number | bigint | string;

function comparable(v: Value): Comparable {
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "string") return v;
  if (v instanceof Double) return v.v;
  throw new Error(`list elements must be numbers or strings to compare, got ${describe(v)}`);
}

function describe(v: Value): string {
  if (Array.isArray(v)) return "list";
  if (v === null) return "null";
  return typeof v === "object" ? "map" : typeof v;
}

function extreme(list: readonly Value[], pick: (a: Comparable, b: Comparable) => boolean): Value {
  if (list.length === 0) throw new Error("min/max of an empty list");
  let best = list[0] as Value;
  let bestKey = comparable(best);
  for (const v of list) {
    const c = comparable(v);
    if (pick(c, bestKey)) {
      best = v;
      bestKey = c;
    }
  }
  return best;
}

type List = readonly Value[];

/**
 * What CEL equality compares a scalar by, as a Set key: strings, bools and null as themselves,
 * numbers of any kind by value (1 == 1.0 == 1u). Undefined for NaN (equal to nothing) and for
 * every other value.
 */
function equalityKey(v: Value): unknown {
  if (typeof v === "string" || typeof v === "boolean" || v === null) return v;
  const n = typeof v === "number" || typeof v === "bigint" ? v : v instanceof Double ? v.v : isCelUint(v) ? v.value : undefined;
  if (typeof n === "number") return Number.isNaN(n) ? undefined : n;
  if (typeof n === "bigint") {
    // One key per value: a bigint a double can hold exactly is keyed as that double.
    const d = Number(n);
    return BigInt(d) === n ? d : n;
  }
  return undefined;
}

// Kubernetes' lists library, plus slice/flatten/distinct from CEL's lists extension.
const listFuncs: Overload[] = [
  method("isSorted", "list", [], "bool", (list: List) => {
    let prev: Comparable | undefined;
    for (const v of list) {
      const c = comparable(v);
      if (prev !== undefined && c < prev) return false;
      prev = c;
    }
    return true;
  }),
  method("sum", "list", [], "dyn", (list: List) => {
    let ints: bigint | undefined = 0n;
    let total = 0;
    for (const v of list) {
      if (typeof v === "number" && Number.isInteger(v) && ints !== undefined) ints += BigInt(v);
      else if (typeof v === "bigint" && ints !== undefined) ints += v;
      else if (typeof v === "number" || typeof v === "bigint" || v instanceof Double) {
        if (ints !== undefined) total = Number(ints);
        ints = undefined;
        total += Number(v instanceof Double ? v.v : v);
      } else throw new Error(`sum() needs numbers, got ${describe(v)}`);
    }
    return ints !== undefined ? intOf(ints, "sum") : Number.isInteger(total) ? new Double(total) : total;
  }),
  method("min", "list", [], "dyn", (list: List) => extreme(list, (a, b) => a < b)),
  method("max", "list", [], "dyn", (list: List) => extreme(list, (a, b) => a > b)),
  method("indexOf", "list", ["dyn"], "int", (list: List, x: Value) => {
    for (let i = 0; i < list.length; i++) if (eq(list[i] as Value, x)) return i;
    return -1;
  }),
  method("lastIndexOf", "list", ["dyn"], "int", (list: List, x: Value) => {
    for (let i = list.length - 1; i >= 0; i--) if (eq(list[i] as Value, x)) return i;
    return -1;
  }),
  method("slice", "list", ["int", "int"], "list", (list: List, start: Int, end: Int) => {
    const s = Number(start);
    const e = Number(end);
    if (s < 0 || e < s || e > list.length) throw new Error(`slice(${start}, ${end}) out of range for a list of ${list.length}`);
    return list.slice(s, e);
  }),
  method("flatten", "list", [], "list", (list: List) => {
    const out: Value[] = [];
    for (const v of list) {
      if (Array.isArray(v)) out.push(...(v as List));
      else out.push(v);
    }
    return out;
  }),
  method("distinct", "list", [], "list", (list: List) => {
    // Scalars by their equality key (linear); lists and maps by CEL equality against the ones
    // kept so far, each comparison charged: 20,000 network ids must not cost 2·10^8 comparisons.
    const out: Value[] = [];
    const seen = new Set<unknown>();
    const opaque = new Set<string>();
    const containers: Value[] = [];
    for (const v of list) {
      const key = equalityKey(v);
      if (key !== undefined) {
        if (seen.has(key)) continue;
        seen.add(key);
      } else if (v instanceof Opaque) {
        const text = `${v.kind} ${v.text}`;
        if (opaque.has(text)) continue;
        opaque.add(text);
      } else {
        charge(1 + containers.length);
        if (containers.some((o) => eq(o, v))) continue;
        containers.push(v);
      }
      out.push(v);
    }
    return out;
  }),
];

const regexFuncs: Overload[] = [
  method("find", "string", ["string"], "string", (s: string, pattern: string) => regex(pattern).exec(s)?.[0] ?? ""),
  method("findAll", "string", ["string"], "list", (s: string, pattern: string) => [...s.matchAll(new RegExp(regex(pattern).source, "gu"))].map((m) => m[0])),
  method("findAll", "string", ["string", "int"], "list", (s: string, pattern: string, limit: Int) => {
    const all = [...s.matchAll(new RegExp(regex(pattern).source, "gu"))].map((m) => m[0]);
    return limit < 0 ? all : all.slice(0, Number(limit));
  }),
];

/** Every function policies can call beyond CEL's standard library and strings extension. */
export const LIBRARY: readonly Overload[] = [...quantityFuncs, ...ipFuncs, ...listFuncs, ...regexFuncs];
