import { isObject, type JsonValue } from "../engine/index.js";


/**
 * RFC 7386 JSON merge patch, as `kubectl patch --type merge` applies it: mappings merge key by
 * key, null removes a key, anything else (lists included) replaces. The target is not modified.
 */
export function mergePatch(target: JsonValue, patch: JsonValue): JsonValue {
  if (!isObject(patch)) return structuredClone(patch);
  const out: { [key: string]: JsonValue } = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}
