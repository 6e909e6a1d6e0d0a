import { celList, celMap, isCelList, isCelMap, type CelValue } from "@bufbuild/cel";

/** JSON as it comes off the wire or out of YAML. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * Kubernetes' CEL sees integer fields as `int`; JSON has only doubles. Converting once per object
 * (integral numbers to bigint, containers to CEL maps and lists) lets `cores % 8` work and lets
 * every expression of every policy share one converted tree.
 */
export function toCel(value: JsonValue | undefined): CelValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "number":
      return Number.isInteger(value) ? BigInt(value) : value;
    case "string":
    case "boolean":
      return value;
  }
  if (Array.isArray(value)) return celList(value.map(toCel));
  const map = new Map<string, CelValue>();
  for (const key in value) map.set(key, toCel(value[key]));
  return celMap(map);
}

const converted = new WeakMap<object, CelValue>();

/** toCel for objects that do not change once stored (cached context objects). */
export function toCelCached(value: JsonObject): CelValue {
  let v = converted.get(value);
  if (v === undefined) {
    v = toCel(value);
    converted.set(value, v);
  }
  return v;
}

/** The inverse, for values that leave the engine (parameters in logs, lookup keys). */
export function fromCel(value: CelValue): JsonValue {
  if (typeof value === "bigint") return Number(value);
  if (value === null || typeof value === "boolean" || typeof value === "number" || typeof value === "string") return value;
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) {
    const out: JsonObject = {};
    for (const [k, v] of value) out[String(k)] = fromCel(v);
    return out;
  }
  // Quantity, IP and CIDR values carry their canonical text.
  const text = (value as { message?: { v?: unknown } }).message?.v;
  return typeof text === "string" ? text : String(value);
}
