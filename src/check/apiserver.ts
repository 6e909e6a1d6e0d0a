import { kindKeyOf, type AdmissionRequest, type JsonObject, type JsonValue } from "../engine/index.js";
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
 * CI sees what the webhook would see in the cluster, in the API server's order:
 * - nulls the schema does not allow are dropped (`settings:` left empty, Helm's rendered nulls);
 * - the schema's defaults;
 * - `mutate`: the platform's mutating admission (its defaults, see platform-defaults.ts);
 * - validation against the CRD's openAPIV3Schema (`problems`);
 * - `metadata.generation`: 1 on CREATE; on UPDATE the old one, plus 1 when anything outside metadata
 *   and status changed (manifests in git carry no generation, and policies compare them).
 */
export function asStored(item: PlannedItem, schemas: CrdSchemas | undefined, mutate: (object: JsonObject) => JsonObject = (o) => o, owned = false): Stored {
  const known = schemas?.knows(item.subject.object) ?? false;
  if (item.operation === "DELETE") {
    return { object: null, oldObject: asStoredObject(item.subject.object, schemas, owned), problems: [], schemaKnown: known };
  }
  const object = mutate(decoded(item.subject.object, schemas, owned));
  // The object is this function's own (decoded and mutate copy, or the caller gave it): validated where it is.
  const problems = (known && schemas?.admit(object, owned || object !== item.subject.object)?.problems) || [];
  if (item.operation === "CREATE" || !item.previous) return { object: withGeneration(object, 1), oldObject: null, problems, schemaKnown: known };
  const oldObject = asStoredObject(item.previous.object, schemas, owned);
  const oldGeneration = generationOf(oldObject) ?? 1;
  const next = sameOutsideMetadataAndStatus(object, oldObject) ? oldGeneration : oldGeneration + 1;
  return { object: withGeneration(object, next), oldObject, problems, schemaKnown: known };
}

/** A previous object as the cluster stores it (nulls pruned, defaults, a generation), for context. */
export function asStoredObject(object: JsonObject, schemas: CrdSchemas | undefined, owned = false): JsonObject {
  return withGeneration(decoded(object, schemas, owned), 1);
}

/**
 * An AdmissionRequest as the API server would have shaped it before calling a webhook, for a review
 * written by hand or from a manifest: the namespace of a cluster-scoped kind cleared, nulls pruned,
 * schema and platform defaults filled in. A review the API server really sent is left as it is
 * (each step is a no-op on what it already did). The schema problems of the new object come back
 * too: the API server would reject such an object before any webhook.
 */
export function asSentToWebhook(
  request: AdmissionRequest,
  schemas: CrdSchemas | undefined,
  mutate: (object: JsonObject) => JsonObject = (o) => o,
): { request: AdmissionRequest; problems: SchemaProblem[] } {
  const shape = (o: JsonObject | null | undefined, fresh: boolean): JsonObject | null | undefined => {
    if (!o) return o;
    const decodedObject = decoded(withClusterScope(o, schemas), schemas);
    return fresh ? mutate(decodedObject) : decodedObject;
  };
  const object = shape(request.object, true);
  const oldObject = shape(request.oldObject, false);
  const self = object ?? oldObject;
  const clusterScoped = self !== null && self !== undefined && isClusterScoped(self, schemas);
  const problems = object && schemas?.knows(object) ? schemas.validate(object) || [] : [];
  const shaped: AdmissionRequest = { ...request, object, oldObject };
  if (clusterScoped) delete shaped.namespace;
  return { request: shaped, problems };
}

/**
 * An object that exists, as the cluster stores it and a webhook would see it in an UPDATE of
 * itself: nulls pruned, defaults, a generation, and its schema problems, all in one walk over the
 * object itself. Only for objects the caller owns (freshly parsed from a dump): for 50,000 VMs,
 * copies cost more than judging them.
 */
export function asStoredInPlace(object: JsonObject, schemas: CrdSchemas | undefined): Stored {
  if (!schemas?.knows(object)) {
    const self = withGeneration(object, 1);
    return { object: self, oldObject: self, problems: [], schemaKnown: false };
  }
  const admitted = schemas.admit(schemas.pruneNulls(object, true), true);
  const self = withGeneration(admitted?.object ?? object, 1);
  return { object: self, oldObject: self, problems: admitted?.problems ?? [], schemaKnown: true };
}

/**
 * The object as the API server decodes it: nulls its schema does not allow pruned, then defaults.
 * One copy (the pruned one, defaulted in place), not one per step; none when the caller `owned` it
 * (a manifest it parsed and keeps no other use for: for 10,000 objects, copies cost memory and time).
 */
function decoded(object: JsonObject, schemas: CrdSchemas | undefined, owned = false): JsonObject {
  if (!schemas || !schemas.knows(object)) return object;
  if (owned) return schemas.admit(schemas.pruneNulls(object, true), true)?.object ?? object;
  const pruned = schemas.pruneNulls(object);
  // pruneNulls copies when it knows the kind's structure; else the object is still the caller's.
  return pruned === object ? schemas.withDefaults(object) : (schemas.admit(pruned, true)?.object ?? pruned);
}

/** Built-in kinds without a namespace (CRDs say so themselves, in spec.scope). */
const CLUSTER_SCOPED_BUILTINS = new Set([
  "/Namespace",
  "/Node",
  "/PersistentVolume",
  "/ComponentStatus",
  "rbac.authorization.k8s.io/ClusterRole",
  "rbac.authorization.k8s.io/ClusterRoleBinding",
  "storage.k8s.io/StorageClass",
  "storage.k8s.io/CSIDriver",
  "storage.k8s.io/CSINode",
  "storage.k8s.io/VolumeAttachment",
  "apiextensions.k8s.io/CustomResourceDefinition",
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
  "admissionregistration.k8s.io/MutatingWebhookConfiguration",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
  "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
  "apiregistration.k8s.io/APIService",
  "scheduling.k8s.io/PriorityClass",
  "node.k8s.io/RuntimeClass",
  "networking.k8s.io/IngressClass",
  "certificates.k8s.io/CertificateSigningRequest",
]);

/**
 * The object without `metadata.namespace` when its kind is cluster-scoped, as the API server
 * clears it (kustomize's `namespace:` sets one on every object, classes included).
 */
export function withClusterScope(object: JsonObject, schemas: CrdSchemas | undefined): JsonObject {
  const m = object.metadata;
  if (!m || typeof m !== "object" || Array.isArray(m) || m.namespace === undefined) return object;
  if (!isClusterScoped(object, schemas)) return object;
  const metadata = { ...m };
  delete metadata.namespace;
  return { ...object, metadata };
}

/** Whether the object's kind has no namespace: its CRD says so, or it is a built-in cluster-scoped kind. */
export function isClusterScoped(object: JsonObject, schemas: CrdSchemas | undefined): boolean {
  return (schemas?.isClusterScoped(object) ?? false) || CLUSTER_SCOPED_BUILTINS.has(kindKeyOf(String(object.apiVersion ?? ""), String(object.kind ?? "")));
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
