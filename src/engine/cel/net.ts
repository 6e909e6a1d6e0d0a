import { Address4, Address6 } from "ip-address";
import { ParseCache } from "./parse-cache.js";

/**
 * IP addresses and CIDR ranges with the semantics of Kubernetes' CEL `ip()`/`cidr()` library,
 * parsed by `ip-address`. Addresses are kept as (family, bigint) so range tests are integer compares.
 */
export interface IPValue {
  readonly family: 4 | 6;
  readonly value: bigint;
}

export interface CIDRValue {
  /** The address as written, host bits included: `cidr("10.0.0.1/24").ip()` is 10.0.0.1. */
  readonly ip: IPValue;
  readonly prefix: number;
  /** First and last address of the range. */
  readonly start: bigint;
  readonly end: bigint;
}

const BITS = { 4: 32, 6: 128 } as const;

// Dotted quads without leading zeros, as Go's netip accepts them; the common case, parsed without ip-address.
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIP(text: string): IPValue {
  const quad = IPV4.exec(text);
  if (quad) {
    const n = ((Number(quad[1]) * 256 + Number(quad[2])) * 256 + Number(quad[3])) * 256 + Number(quad[4]);
    return { family: 4, value: BigInt(n) };
  }
  if (text.includes("/")) throw new Error(`IP Address "${text}" parse error: a prefix length is not allowed; use cidr()`);
  if (text.includes("%")) throw new Error(`IP Address "${text}" parse error: zones are not allowed`);
  if (text.includes(":")) {
    if (!Address6.isValid(text)) throw new Error(`IP Address "${text}" parse error: not a valid IPv6 address`);
    const addr = new Address6(text);
    // Kubernetes rejects IPv4-mapped IPv6 addresses: they have two spellings of one address.
    if (addr.is4()) throw new Error(`IP Address "${text}" parse error: IPv4-mapped IPv6 addresses are not allowed`);
    return { family: 6, value: addr.bigInt() };
  }
  if (!Address4.isValid(text)) throw new Error(`IP Address "${text}" parse error: not a valid IPv4 address`);
  return { family: 4, value: new Address4(text).bigInt() };
}

export function parseCIDR(text: string): CIDRValue {
  const slash = text.indexOf("/");
  if (slash < 0) throw new Error(`network address "${text}" parse error: a CIDR needs a prefix length, as in 10.0.0.0/24`);
  const ip = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= BITS[ip.family])) {
    throw new Error(`network address "${text}" parse error: prefix length must be 0..${BITS[ip.family]}`);
  }
  const hostBits = BigInt(BITS[ip.family] - prefix);
  const start = (ip.value >> hostBits) << hostBits;
  return { ip, prefix, start, end: start + (1n << hostBits) - 1n };
}

/**
 * Parsed addresses and ranges, shared by the CEL library and the IP index: the values a policy
 * reads (the ModuleConfig's CIDRs, a VM's address) come back request after request.
 */
export const IP_CACHE = new ParseCache(parseIP);
export const CIDR_CACHE = new ParseCache(parseCIDR);

export function isIP(text: string): boolean {
  return tryParse(parseIP, text);
}

export function isCIDR(text: string): boolean {
  return tryParse(parseCIDR, text);
}

function tryParse(parse: (s: string) => unknown, text: string): boolean {
  try {
    parse(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIP(ip: IPValue): string {
  if (ip.family === 4) {
    const n = Number(ip.value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return Address6.fromBigInt(ip.value).correctForm();
}

export function formatCIDR(c: CIDRValue): string {
  return `${formatIP(c.ip)}/${c.prefix}`;
}

export function maskedCIDR(c: CIDRValue): CIDRValue {
  return { ...c, ip: { family: c.ip.family, value: c.start } };
}

export function cidrContainsIP(c: CIDRValue, ip: IPValue): boolean {
  return c.ip.family === ip.family && ip.value >= c.start && ip.value <= c.end;
}

export function cidrContainsCIDR(outer: CIDRValue, inner: CIDRValue): boolean {
  return outer.ip.family === inner.ip.family && inner.start >= outer.start && inner.end <= outer.end;
}

/** Two ranges overlap when they share at least one address; nesting counts. */
export function cidrsOverlap(a: CIDRValue, b: CIDRValue): boolean {
  return a.ip.family === b.ip.family && a.start <= b.end && b.start <= a.end;
}

// Classification as in Go's net/netip, which Kubernetes' CEL library delegates to.
export function isLoopback(ip: IPValue): boolean {
  return ip.family === 4 ? ip.value >> 24n === 127n : ip.value === 1n;
}
export function isUnspecified(ip: IPValue): boolean {
  return ip.value === 0n;
}
export function isLinkLocalMulticast(ip: IPValue): boolean {
  return ip.family === 4 ? ip.value >> 8n === 0xe00000n : ip.value >> 112n === 0xff02n;
}
export function isLinkLocalUnicast(ip: IPValue): boolean {
  return ip.family === 4 ? ip.value >> 16n === 0xa9fen : ip.value >> 118n === 0x3fan;
}
export function isGlobalUnicast(ip: IPValue): boolean {
  if (isUnspecified(ip) || isLoopback(ip) || isLinkLocalUnicast(ip)) return false;
  if (ip.family === 4) {
    if (ip.value === 0xffffffffn) return false;
    return ip.value >> 28n !== 0xen; // not multicast 224.0.0.0/4
  }
  return ip.value >> 120n !== 0xffn; // not multicast ff00::/8
}

/**
 * Pairs of ranges that share an address, found by sorting (n·log n, where comparing every pair
 * is quadratic): ranges ordered by family, first address, then widest first; a range overlaps an
 * earlier one exactly when it starts at or before the farthest end seen so far, and is paired with
 * the range that reaches that end. So every range that overlaps any other appears in a pair (with
 * the earlier one), though not every overlapping pair is listed. Equal ranges are a pair too.
 */
export function overlappingPairs<T>(items: readonly { range: CIDRValue; item: T }[]): [T, T][] {
  const sorted = [...items].sort(
    (a, b) => a.range.ip.family - b.range.ip.family || compareBig(a.range.start, b.range.start) || compareBig(b.range.end, a.range.end),
  );
  const pairs: [T, T][] = [];
  let reach: (typeof sorted)[number] | undefined;
  let previous: (typeof sorted)[number] | undefined;
  for (const current of sorted) {
    if (reach && reach.range.ip.family === current.range.ip.family && current.range.start <= reach.range.end) {
      // An equal range sorts right after its twin: pair them, so a repeated item reads as one.
      const twin = previous && previous.range.start === current.range.start && previous.range.end === current.range.end;
      pairs.push([twin && previous ? previous.item : reach.item, current.item]);
      if (current.range.end > reach.range.end) reach = current;
    } else {
      reach = current;
    }
    previous = current;
  }
  return pairs;
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
