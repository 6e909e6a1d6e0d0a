import type { JsonObject, JsonValue } from "./types.js";

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "apps/v1" → group "apps", version "v1"; "v1" (the core group) → group "". */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf("/");
  return { group: slash < 0 ? "" : apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** An object's group, version and kind, as the API server reads them from apiVersion and kind. */
export function groupVersionKind(object: JsonObject): { group: string; version: string; kind: string } {
  return { ...parseApiVersion(String(object.apiVersion ?? "")), kind: String(object.kind ?? "") };
}

/**
 * A deep copy of a JSON value. structuredClone is native and fast, but recursive: an object nested
 * thousands of levels deep (the API server accepts 10,000) overflows its stack, so such a value is
 * copied with an explicit stack instead.
 */
export function cloneJson<T extends JsonValue>(value: T): T {
  try {
    return structuredClone(value);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return copyIteratively(value);
  }
}

function copyIteratively<T extends JsonValue>(value: T): T {
  const shell = (v: JsonValue): JsonValue => (Array.isArray(v) ? new Array<JsonValue>(v.length) : isObject(v) ? {} : v);
  const root = shell(value);
  const work: [JsonValue, JsonValue][] = [[value, root]];
  for (let next = work.pop(); next; next = work.pop()) {
    const [from, to] = next;
    if (Array.isArray(from)) {
      const out = to as JsonValue[];
      from.forEach((v, i) => {
        out[i] = shell(v);
        if (typeof v === "object" && v !== null) work.push([v, out[i] as JsonValue]);
      });
    } else if (isObject(from)) {
      const out = to as JsonObject;
      for (const [k, v] of Object.entries(from)) {
        const copy = shell(v);
        // A "__proto__" key is data here, as JSON.parse made it: define it, never assign the prototype.
        Object.defineProperty(out, k, { value: copy, enumerable: true, writable: true, configurable: true });
        if (typeof v === "object" && v !== null) work.push([v, copy]);
      }
    }
  }
  return root as T;
}
