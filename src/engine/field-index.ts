import type { JsonObject } from "./types.js";

/**
 * Objects indexed by the exact string values of a field (VirtualMachines by the class they name),
 * answering "which objects have one of these keys" in O(keys + results) instead of a scan.
 */
export class FieldIndex {
  private readonly byKey = new Map<string, Set<JsonObject>>();
  private readonly keysOfObject = new Map<JsonObject, readonly string[]>();

  get size(): number {
    return this.keysOfObject.size;
  }

  /** Adds an object under its keys; an object without keys is not indexed. */
  add(object: JsonObject, keys: readonly string[]): void {
    if (keys.length === 0) return;
    this.keysOfObject.set(object, keys);
    for (const key of keys) {
      let objects = this.byKey.get(key);
      if (!objects) this.byKey.set(key, (objects = new Set()));
      objects.add(object);
    }
  }

  delete(object: JsonObject): void {
    const keys = this.keysOfObject.get(object);
    if (!keys) return;
    this.keysOfObject.delete(object);
    for (const key of keys) {
      const objects = this.byKey.get(key);
      if (!objects) continue;
      objects.delete(object);
      if (objects.size === 0) this.byKey.delete(key);
    }
  }

  /** The objects holding any of these keys, each once, up to `limit`. */
  query(keys: readonly string[], limit = Infinity): JsonObject[] {
    const out = new Set<JsonObject>();
    for (const key of keys) {
      for (const object of this.byKey.get(key) ?? []) {
        if (out.size >= limit) return [...out];
        out.add(object);
      }
    }
    return [...out];
  }
}
