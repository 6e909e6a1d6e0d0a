import {
  celFunc,
  celList,
  celMethod,
  CelScalar,
  isCelList,
  isCelMap,
  listType,
  type CelFunc,
  type CelList,
  type CelValue,
} from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import * as q from "./quantity.js";
import * as net from "./net.js";
import { CIDRType, IPType, QuantityType } from "./types.js";
import { quantityValueFunctions } from "./quantity-value.js";

const { STRING, INT, BOOL, DOUBLE, DYN } = CelScalar;
const LIST = listType(DYN);
const Q = QuantityType.cel;
const IP = IPType.cel;
const CIDR = CIDRType.cel;

/**
 * Parsed forms of canonical strings. Evaluations see the same handful of values (policy limits,
 * the object's own fields) again and again; the bound keeps a hostile stream of distinct values
 * from growing memory.
 */
class ParseCache<T> {
  private readonly entries = new Map<string, T>();
  constructor(private readonly parse: (s: string) => T, private readonly limit = 4096) {}
  get(text: string): T {
    let v = this.entries.get(text);
    if (v === undefined) {
      v = this.parse(text);
      if (this.entries.size >= this.limit) this.entries.clear();
      this.entries.set(text, v);
    }
    return v;
  }
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
const canonicalQuantities = new ParseCache(q.parseCanonicalKey);
const ips = new ParseCache(net.parseIP);
const cidrs = new ParseCache(net.parseCIDR);

const qOf = (v: unknown) => canonicalQuantities.get(QuantityType.unwrap(v));
const qWrap = (v: q.QuantityValue) => QuantityType.wrap(q.canonicalKey(v));
const ipOf = (v: unknown) => ips.get(IPType.unwrap(v));
const cidrOf = (v: unknown) => cidrs.get(CIDRType.unwrap(v));
const ipWrap = (v: net.IPValue) => IPType.wrap(net.formatIP(v));
const cidrWrap = (v: net.CIDRValue) => CIDRType.wrap(net.formatCIDR(v));

const quantityFuncs: CelFunc[] = [
  celFunc("quantity", [STRING], Q, (s) => qWrap(quantities.get(s))),
  celFunc("isQuantity", [STRING], BOOL, (s) => parses(quantities, s)),
  celFunc("string", [Q], STRING, (v) => q.formatQuantity(qOf(v))),
  celMethod("sign", Q, [], INT, function () {
    const n = qOf(this).num;
    return n > 0n ? 1n : n < 0n ? -1n : 0n;
  }),
  celMethod("isInteger", Q, [], BOOL, function () {
    return q.isIntegerQuantity(qOf(this));
  }),
  celMethod("asInteger", Q, [], INT, function () {
    return q.quantityAsInteger(qOf(this));
  }),
  celMethod("asApproximateFloat", Q, [], DOUBLE, function () {
    return q.quantityAsFloat(qOf(this));
  }),
  celMethod("add", Q, [Q], Q, function (o) {
    return qWrap(q.addQuantity(qOf(this), qOf(o)));
  }),
  celMethod("add", Q, [INT], Q, function (n) {
    return qWrap(q.addQuantity(qOf(this), q.fromInteger(n)));
  }),
  celMethod("sub", Q, [Q], Q, function (o) {
    return qWrap(q.addQuantity(qOf(this), q.negateQuantity(qOf(o))));
  }),
  celMethod("sub", Q, [INT], Q, function (n) {
    return qWrap(q.addQuantity(qOf(this), q.fromInteger(-n)));
  }),
  celMethod("mul", Q, [INT], Q, function (n) {
    return qWrap(q.multiplyQuantity(qOf(this), n));
  }),
  celMethod("divInt", Q, [INT], Q, function (n) {
    return qWrap(q.divideQuantityInteger(qOf(this), n));
  }),
  celMethod("isLessThan", Q, [Q], BOOL, function (o) {
    return q.compareQuantity(qOf(this), qOf(o)) < 0;
  }),
  celMethod("isGreaterThan", Q, [Q], BOOL, function (o) {
    return q.compareQuantity(qOf(this), qOf(o)) > 0;
  }),
  celMethod("compareTo", Q, [Q], INT, function (o) {
    return BigInt(q.compareQuantity(qOf(this), qOf(o)));
  }),
];

const ipFuncs: CelFunc[] = [
  celFunc("ip", [STRING], IP, (s) => ipWrap(ips.get(s))),
  celFunc("isIP", [STRING], BOOL, (s) => parses(ips, s)),
  celFunc("ip.isCanonical", [STRING], BOOL, (s) => net.formatIP(ips.get(s)) === s),
  celFunc("string", [IP], STRING, (v) => IPType.unwrap(v)),
  celMethod("family", IP, [], INT, function () {
    return BigInt(ipOf(this).family);
  }),
  celMethod("isUnspecified", IP, [], BOOL, function () {
    return net.isUnspecified(ipOf(this));
  }),
  celMethod("isLoopback", IP, [], BOOL, function () {
    return net.isLoopback(ipOf(this));
  }),
  celMethod("isLinkLocalMulticast", IP, [], BOOL, function () {
    return net.isLinkLocalMulticast(ipOf(this));
  }),
  celMethod("isLinkLocalUnicast", IP, [], BOOL, function () {
    return net.isLinkLocalUnicast(ipOf(this));
  }),
  celMethod("isGlobalUnicast", IP, [], BOOL, function () {
    return net.isGlobalUnicast(ipOf(this));
  }),
  celFunc("cidr", [STRING], CIDR, (s) => cidrWrap(cidrs.get(s))),
  celFunc("isCIDR", [STRING], BOOL, (s) => parses(cidrs, s)),
  celFunc("string", [CIDR], STRING, (v) => CIDRType.unwrap(v)),
  celMethod("containsIP", CIDR, [IP], BOOL, function (ip) {
    return net.cidrContainsIP(cidrOf(this), ipOf(ip));
  }),
  celMethod("containsIP", CIDR, [STRING], BOOL, function (ip) {
    return net.cidrContainsIP(cidrOf(this), ips.get(ip));
  }),
  celMethod("containsCIDR", CIDR, [CIDR], BOOL, function (c) {
    return net.cidrContainsCIDR(cidrOf(this), cidrOf(c));
  }),
  celMethod("containsCIDR", CIDR, [STRING], BOOL, function (c) {
    return net.cidrContainsCIDR(cidrOf(this), cidrs.get(c));
  }),
  // Not in Kubernetes' library: the overlap test the DVP subnet rules need, nesting included.
  celMethod("overlaps", CIDR, [CIDR], BOOL, function (c) {
    return net.cidrsOverlap(cidrOf(this), cidrOf(c));
  }),
  celMethod("overlaps", CIDR, [STRING], BOOL, function (c) {
    return net.cidrsOverlap(cidrOf(this), cidrs.get(c));
  }),
  // Not in Kubernetes' library: overlaps within a list in n·log n, where .overlaps() pairwise is quadratic.
  celFunc("cidr.overlappingPairs", [listType(STRING)], listType(listType(STRING)), (list) => {
    const parsed: { range: net.CIDRValue; item: string }[] = [];
    for (const item of list) {
      if (typeof item !== "string") continue;
      try {
        parsed.push({ range: cidrs.get(item), item });
      } catch {
        // Not a CIDR: policies report those on their own, with isCIDR().
      }
    }
    return net.overlappingPairs(parsed).map(([a, b]) => celList([a, b]));
  }),
  celMethod("ip", CIDR, [], IP, function () {
    return ipWrap(cidrOf(this).ip);
  }),
  celMethod("masked", CIDR, [], CIDR, function () {
    return cidrWrap(net.maskedCIDR(cidrOf(this)));
  }),
  celMethod("prefixLength", CIDR, [], INT, function () {
    return BigInt(cidrOf(this).prefix);
  }),
];

type Comparable = bigint | number | string;

function comparable(v: CelValue): Comparable {
  if (typeof v === "bigint" || typeof v === "number" || typeof v === "string") return v;
  throw new Error(`list elements must be numbers or strings to compare, got ${describe(v)}`);
}

function describe(v: CelValue): string {
  if (isCelList(v)) return "list";
  if (isCelMap(v)) return "map";
  return v === null ? "null" : typeof v;
}

/** CEL equality for the values policies compare: numbers across int/double, strings, lists, maps. */
export function celEquals(a: CelValue, b: CelValue): boolean {
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number")) {
    return Number(a) === Number(b) && (typeof a !== "bigint" || typeof b !== "bigint" || a === b);
  }
  if (isCelList(a) && isCelList(b)) {
    if (a.size !== b.size) return false;
    for (let i = 0; i < a.size; i++) if (!celEquals(a.get(i) as CelValue, b.get(i) as CelValue)) return false;
    return true;
  }
  if (isCelMap(a) && isCelMap(b)) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) {
      const other = b.get(k);
      if (other === undefined || !celEquals(v, other)) return false;
    }
    return true;
  }
  return a === b;
}

function extreme(list: CelList, pick: (a: Comparable, b: Comparable) => boolean): CelValue {
  if (list.size === 0) throw new Error("min/max of an empty list");
  let best = comparable(list.get(0) as CelValue);
  for (const v of list) {
    const c = comparable(v);
    if (pick(c, best)) best = c;
  }
  return best;
}

// Kubernetes' lists library, plus slice/flatten/distinct from CEL's lists extension.
const listFuncs: CelFunc[] = [
  celMethod("isSorted", LIST, [], BOOL, function () {
    let prev: Comparable | undefined;
    for (const v of this) {
      const c = comparable(v);
      if (prev !== undefined && c < prev) return false;
      prev = c;
    }
    return true;
  }),
  celMethod("sum", LIST, [], DYN, function () {
    let total: bigint | number = 0n;
    for (const v of this) {
      if (typeof v === "bigint" && typeof total === "bigint") total += v;
      else if (typeof v === "bigint" || typeof v === "number") total = Number(total) + Number(v);
      else throw new Error(`sum() needs numbers, got ${describe(v)}`);
    }
    return total;
  }),
  celMethod("min", LIST, [], DYN, function () {
    return extreme(this, (a, b) => a < b);
  }),
  celMethod("max", LIST, [], DYN, function () {
    return extreme(this, (a, b) => a > b);
  }),
  celMethod("indexOf", LIST, [DYN], INT, function (x) {
    let i = 0n;
    for (const v of this) {
      if (celEquals(v, x)) return i;
      i++;
    }
    return -1n;
  }),
  celMethod("lastIndexOf", LIST, [DYN], INT, function (x) {
    for (let i = this.size - 1; i >= 0; i--) if (celEquals(this.get(i) as CelValue, x)) return BigInt(i);
    return -1n;
  }),
  celMethod("slice", LIST, [INT, INT], LIST, function (start, end) {
    const s = Number(start);
    const e = Number(end);
    if (s < 0 || e < s || e > this.size) throw new Error(`slice(${start}, ${end}) out of range for a list of ${this.size}`);
    const out: CelValue[] = [];
    for (let i = s; i < e; i++) out.push(this.get(i) as CelValue);
    return celList(out);
  }),
  celMethod("flatten", LIST, [], LIST, function () {
    const out: CelValue[] = [];
    for (const v of this) {
      if (isCelList(v)) out.push(...v);
      else out.push(v);
    }
    return celList(out);
  }),
  celMethod("distinct", LIST, [], LIST, function () {
    // Strings, bools and ints by a Set (linear); other values by CEL equality, which is quadratic.
    const out: CelValue[] = [];
    const seen = new Set<unknown>();
    for (const v of this) {
      if (typeof v === "string" || typeof v === "boolean" || typeof v === "bigint") {
        if (seen.has(v)) continue;
        seen.add(v);
        if (typeof v === "bigint" && out.some((o) => typeof o === "number" && celEquals(o, v))) continue;
      } else if (out.some((o) => celEquals(o, v))) continue;
      out.push(v);
    }
    return celList(out);
  }),
];

const regexCache = new ParseCache((pattern: string) => new RegExp(pattern, "u"), 512);
const regexFuncs: CelFunc[] = [
  celMethod("find", STRING, [STRING], STRING, function (pattern) {
    return regexCache.get(pattern).exec(this)?.[0] ?? "";
  }),
  celMethod("findAll", STRING, [STRING], listType(STRING), function (pattern) {
    return [...this.matchAll(new RegExp(regexCache.get(pattern).source, "gu"))].map((m) => m[0]);
  }),
  celMethod("findAll", STRING, [STRING, INT], listType(STRING), function (pattern, limit) {
    const all = [...this.matchAll(new RegExp(regexCache.get(pattern).source, "gu"))].map((m) => m[0]);
    return limit < 0n ? all : all.slice(0, Number(limit));
  }),
];

/** Every function policies can call, beyond CEL's standard library. */
export const virtguardFunctions: readonly CelFunc[] = [
  ...strings,
  ...quantityFuncs,
  ...ipFuncs,
  ...listFuncs,
  ...regexFuncs,
  ...quantityValueFunctions,
];
