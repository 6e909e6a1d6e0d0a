import { isObject, kindKeyOf, type JsonObject, type JsonValue, type KindKey } from "../engine/index.js";
import type { DefaultingRule } from "../policy-files/platform.js";


function annotationsOf(object: JsonObject): Record<string, JsonValue> {
  const m = object.metadata;
  return isObject(m) && isObject(m.annotations) ? m.annotations : {};
}

function nameOf(object: JsonObject): string | undefined {
  const m = object.metadata;
  return isObject(m) && typeof m.name === "string" && m.name !== "" ? m.name : undefined;
}

/**
 * A copy of the object with the platform's defaults filled in, as its mutating webhook does before
 * the object is validated: for each rule on the object's kind whose field is missing, null or "",
 * the name of the one object of `nameOf.kind` carrying every annotation. With none or several such
 * objects the field stays as it is: the platform would refuse it, and so will the schema or a policy.
 */
export function withPlatformDefaults(object: JsonObject, rules: readonly DefaultingRule[], list: (kind: KindKey) => readonly JsonObject[]): JsonObject {
  const kind = kindKeyOf(String(object.apiVersion ?? ""), String(object.kind ?? ""));
  let out = object;
  for (const rule of rules) {
    if (rule.target !== kind) continue;
    const path = rule.field.split(".");
    const current = valueAt(out, path);
    if (current !== undefined && current !== null && current !== "") continue;
    const candidates = list(rule.nameOf.kind).filter((o) => Object.entries(rule.nameOf.annotations).every(([k, v]) => annotationsOf(o)[k] === v));
    const name = candidates.length === 1 ? nameOf(candidates[0] as JsonObject) : undefined;
    if (name === undefined) continue;
    if (out === object) out = structuredClone(object);
    setAt(out, path, name);
  }
  return out;
}

function valueAt(object: JsonObject, path: readonly string[]): JsonValue | undefined {
  let at: JsonValue | undefined = object;
  for (const key of path) at = isObject(at) ? at[key] : undefined;
  return at;
}

function setAt(object: JsonObject, path: readonly string[], value: JsonValue): void {
  let at = object;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (!isObject(next)) at[key] = {};
    at = at[key] as JsonObject;
  }
  at[path[path.length - 1] as string] = value;
}
