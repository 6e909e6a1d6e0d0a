import { CIDR_CACHE, parseIP } from "./cel/net.js";
import type { IPQuery, JsonObject } from "./types.js";

const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

/** One family's keys, kept sorted so a CIDR is a binary-searched range. */
class SortedKeys {
  readonly keys: bigint[] = [];
  readonly objects: JsonObject[] = [];

  /** First position whose key is >= value. */
  lowerBound(value: bigint): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as bigint) < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(value: bigint, object: JsonObject): void {
    const at = this.lowerBound(value);
    this.keys.splice(at, 0, value);
    this.objects.splice(at, 0, object);
  }

  delete(value: bigint, object: JsonObject): void {
    for (let i = this.lowerBound(value); i < this.keys.length && this.keys[i] === value; i++) {
      if (this.objects[i] === object) {
        this.keys.splice(i, 1);
        this.objects.splice(i, 1);
        return;
      }
    }
  }
}

type Range = [bigint, bigint];

/**
 * Objects indexed by the IP addresses they hold (a lease by its address, a Node by its
 * InternalIP), answering "which objects have an address inside / outside these CIDRs" in
 * O(ranges × log n + results) instead of a scan per CIDR.
 */
export class IPIndex {
  private readonly families = { 4: new SortedKeys(), 6: new SortedKeys() };
  private readonly keysOfObject = new Map<JsonObject, { family: 4 | 6; value: bigint }[]>();

  get size(): number {
    return this.keysOfObject.size;
  }

  /** Adds an object under its keys; keys that are not IP addresses are ignored. */
  add(object: JsonObject, keys: readonly string[]): void {
    const parsed: { family: 4 | 6; value: bigint }[] = [];
    for (const key of keys) {
      try {
        parsed.push(parseIP(key));
      } catch {
        // An object whose name does not encode an address is simply not indexed.
      }
    }
    if (parsed.length === 0) return;
    this.keysOfObject.set(object, parsed);
    for (const k of parsed) this.families[k.family].insert(k.value, object);
  }

  delete(object: JsonObject): void {
    const keys = this.keysOfObject.get(object);
    if (!keys) return;
    this.keysOfObject.delete(object);
    for (const k of keys) this.families[k.family].delete(k.value, object);
  }

  query(q: IPQuery): JsonObject[] {
    const limit = q.limit ?? Infinity;
    const out = new Set<JsonObject>();
    const within = q.within?.map((c) => CIDR_CACHE.get(c));
    const outside = q.outside?.map((c) => CIDR_CACHE.get(c));
    for (const family of [4, 6] as const) {
      let ranges: Range[] = within ? merge(within.filter((c) => c.ip.family === family).map((c): Range => [c.start, c.end])) : [[0n, MAX[family]]];
      if (outside) ranges = subtract(ranges, merge(outside.filter((c) => c.ip.family === family).map((c): Range => [c.start, c.end])));
      const sorted = this.families[family];
      for (const [start, end] of ranges) {
        for (let i = sorted.lowerBound(start); i < sorted.keys.length && (sorted.keys[i] as bigint) <= end; i++) {
          out.add(sorted.objects[i] as JsonObject);
          if (out.size >= limit) return [...out];
        }
      }
    }
    return [...out];
  }
}

function merge(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1n) {
      if (r[1] > last[1]) last[1] = r[1];
    } else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * The parts of `ranges` not covered by `holes` (both sorted and merged), in one pass over each:
 * a hole that ends before a range starts ends before every later range too.
 */
function subtract(ranges: Range[], holes: Range[]): Range[] {
  const out: Range[] = [];
  let first = 0;
  for (const [start, end] of ranges) {
    while (first < holes.length && (holes[first] as Range)[1] < start) first++;
    let cursor = start;
    for (let i = first; i < holes.length && cursor <= end; i++) {
      const [hs, he] = holes[i] as Range;
      if (hs > end) break;
      if (hs > cursor) out.push([cursor, hs - 1n]);
      if (he + 1n > cursor) cursor = he + 1n;
    }
    if (cursor <= end) out.push([cursor, end]);
  }
  return out;
}
