import { isObject, type JsonObject, type JsonValue } from "../../engine/index.js";

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** Metadata fields no policy reads and that can dwarf the object itself: the server-side-apply bookkeeping. */
const DROPPED_METADATA = new Set(["managedFields"]);

/** A copy of `object` without the keys in `drop`, its other keys in their order. */
function without(object: JsonObject, drop: (key: string) => boolean): JsonObject {
  const out: JsonObject = {};
  for (const key in object) if (!drop(key)) out[key] = object[key] as JsonValue;
  return out;
}

/**
 * Drops what no policy reads and what can dwarf the object itself: metadata.managedFields and the
 * annotation in which `kubectl apply` keeps a second copy of the whole object. Done once, when an
 * object enters the cache; the cache never hands the object out before that.
 *
 * The metadata (and annotations) are rebuilt rather than edited with `delete`: deleting a property
 * that is not the last one turns a V8 object into a dictionary, several times larger than an
 * object of the same shape built key by key, and 50,000 cached objects would each carry one.
 * `apiVersion` and `kind` become the given strings when equal to them, so that every cached object
 * of a kind shares one copy instead of the one JSON.parse made for it.
 */
export function slim(object: JsonObject, shared?: { apiVersion: string; kind: string }): JsonObject {
  if (shared) {
    if (object.apiVersion === shared.apiVersion) object.apiVersion = shared.apiVersion;
    if (object.kind === shared.kind) object.kind = shared.kind;
  }
  const metadata = object.metadata;
  if (!isObject(metadata)) return object;
  const annotations = metadata.annotations;
  const lastApplied = isObject(annotations) && LAST_APPLIED in annotations;
  if (!lastApplied && !Object.keys(metadata).some((k) => DROPPED_METADATA.has(k))) return object;
  const slimmed = without(metadata, (k) => DROPPED_METADATA.has(k));
  if (lastApplied) slimmed.annotations = without(annotations as JsonObject, (k) => k === LAST_APPLIED);
  object.metadata = slimmed;
  return object;
}
