import { isObject, type JsonObject } from "../../engine/index.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Drops what no policy reads and what can dwarf the object itself: metadata.managedFields (the
 * server-side-apply bookkeeping) and the annotation in which `kubectl apply` keeps a second copy of
 * the whole object. Done in place, once, when an object enters the cache; the cache never hands
 * the object out before that.
 */
export function slim(object: JsonObject): JsonObject {
  const metadata = object.metadata;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return object;
  if ("managedFields" in metadata) delete metadata.managedFields;
  const annotations = metadata.annotations;
  if (isObject(annotations) && LAST_APPLIED in annotations) {
    delete annotations[LAST_APPLIED];
  }
  return object;
}
