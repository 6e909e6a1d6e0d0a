import type { JsonObject, JsonValue } from "../engine/index.js";
import type { CrdSchemas, SchemaProblem } from "../schema/crd-schema.js";
import type { PlannedItem } from "./plan.js";

/** An object as a validating webhook would receive it, after the API server's own processing. */
export interface Stored {
  /** The new object (null on DELETE), with schema defaults and metadata.generation filled in. */
  object: JsonObject | null;
  /** The previous version (null on CREATE), processed the same way. */
  oldObject: JsonObject | null;
  /** Schema problems of the new object; the API server rejects it before any webhook when there are any. */
  problems: SchemaProblem[];
  /** Whether a CRD describes this kind, i.e. whether the schema was checked at all. */
  schemaKnown: boolean;
}

/**
 * Emulates what the API server does to a manifest before validating admission, so that a check in
 * CI sees what the webhook would see in the cluster:
 * - validation against the CRD's openAPIV3Schema (`problems`);
 * - the schema's defaults;
 * - `metadata.generation`: 1 on CREATE; on UPDATE the old one, plus 1 when anything outside metadata
 *   and status changed (manifests in git carry no generation, and policies compare them).
 */
export function asStored(item: PlannedItem, schemas: CrdSchemas | undefined): Stored {
  const known = schemas?.knows(item.subject.object) ?? false;
  const store = (o: JsonObject): JsonObject => (schemas && schemas.knows(o) ? schemas.withDefaults(o) : o);
  if (item.operation === "DELETE") {
    return { object: null, oldObject: withGeneration(store(item.subject.object), 1), problems: [], schemaKnown: known };
  }
  const problems = (known && schemas?.validate(item.subject.object)) || [];
  const object = store(item.subject.object);
  if (item.operation === "CREATE" || !item.previous) return { object: withGeneration(object, 1), oldObject: null, problems, schemaKnown: known };
  const oldObject = withGeneration(store(item.previous.object), 1);
  const oldGeneration = generationOf(oldObject) ?? 1;
  const next = sameOutsideMetadataAndStatus(object, oldObject) ? oldGeneration : oldGeneration + 1;
  return { object: withGeneration(object, next), oldObject, problems, schemaKnown: known };
}

/** A previous object as the cluster stores it (defaults, a generation), for context. */
export function asStoredObject(object: JsonObject, schemas: CrdSchemas | undefined): JsonObject {
  return withGeneration(schemas && schemas.knows(object) ? schemas.withDefaults(object) : object, 1);
}

function generationOf(object: JsonObject): number | undefined {
  const m = object.metadata;
  if (!m || typeof m !== "object" || Array.isArray(m)) return undefined;
  return typeof m.generation === "number" ? m.generation : undefined;
}

/** Sets metadata.generation when the manifest has none and the object has a spec (as objects with generations do). */
function withGeneration(object: JsonObject, generation: number): JsonObject {
  if (object.spec === undefined || generationOf(object) !== undefined) return object;
  const m = object.metadata;
  const metadata = m && typeof m === "object" && !Array.isArray(m) ? m : {};
  return { ...object, metadata: { ...metadata, generation } };
}

function sameOutsideMetadataAndStatus(a: JsonObject, b: JsonObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (k === "metadata" || k === "status") continue;
    if (!deepEqual(a[k], b[k])) return false;
  }
  return true;
}

export function deepEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => deepEqual(v, b[i]));
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}
