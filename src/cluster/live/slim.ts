import type { JsonObject } from "../../engine/index.js";

/**
 * Drops what no policy reads and what can dwarf the object itself: metadata.managedFields (the
 * server-side-apply bookkeeping, often larger than the spec). Done in place, once, when an object
 * enters the cache; the cache never hands the object out before that.
 */
export function slim(object: JsonObject): JsonObject {
  const metadata = object.metadata;
  if (typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) && "managedFields" in metadata) delete metadata.managedFields;
  return object;
}
