import type { ParsedObject } from "../cluster/files.js";
import { groupVersionKind, isObject, type JsonObject } from "../engine/index.js";

/** What the API server would be asked to do with one manifest. */
export type PlannedOperation = "CREATE" | "UPDATE" | "DELETE";

/** An object's identity, as the API server keys it: group, kind, namespace and name (not the version). */
export interface Identity {
  apiVersion: string;
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
  /** group/kind/namespace/name; unique per object, or per manifest when the object has no name. */
  key: string;
}

export interface PlannedItem {
  operation: PlannedOperation;
  identity: Identity;
  /** The manifest under judgment: the new version (CREATE, UPDATE) or the removed one (DELETE). */
  subject: ParsedObject;
  /** The version in the --against tree (UPDATE, DELETE). */
  previous?: ParsedObject;
}

export interface Plan {
  items: PlannedItem[];
  /** Previous objects the new manifests no longer have, when they are not judged as deletions: still in the cluster. */
  untouched: ParsedObject[];
  /** Notes for stderr: duplicates and the like, never fatal. */
  notes: string[];
}

function metadataOf(object: JsonObject): { name?: unknown; namespace?: unknown; generateName?: unknown } {
  const m = object.metadata;
  return isObject(m) ? m : {};
}

let anonymous = 0;

export function identityOf(object: JsonObject): Identity {
  const apiVersion = String(object.apiVersion ?? "");
  const { group, version, kind } = groupVersionKind(object);
  const m = metadataOf(object);
  const name = typeof m.name === "string" ? m.name : "";
  const namespace = typeof m.namespace === "string" ? m.namespace : "";
  // A manifest with only generateName never names an existing object: it gets a key of its own.
  const key = name ? `${group}/${kind}/${namespace}/${name}` : `${group}/${kind}/${namespace}/\0${anonymous++}`;
  return { apiVersion, group, version, kind, namespace, name, key };
}

/** "Kind/namespace/name", or "Kind/name" for a cluster-scoped object: how reports name objects. */
export function displayName(id: Pick<Identity, "kind" | "namespace" | "name">): string {
  const name = id.name || "(generateName)";
  return id.namespace ? `${id.kind}/${id.namespace}/${name}` : `${id.kind}/${name}`;
}

function where(p: ParsedObject): string {
  return `${p.file}:${p.line}`;
}

/**
 * Pairs the checked manifests with their previous versions. Without `previous` every manifest is a
 * CREATE. With it, a manifest whose object exists there is an UPDATE of that version, and an object
 * only there is a DELETE when `deletions` is set (and otherwise left alone, as `kubectl apply`
 * without `--prune` leaves it).
 */
export function planOperations(current: readonly ParsedObject[], previous: readonly ParsedObject[] | undefined, deletions: boolean): Plan {
  const notes: string[] = [];
  const before = new Map<string, ParsedObject>();
  for (const p of previous ?? []) {
    const id = identityOf(p.object);
    const dup = before.get(id.key);
    if (dup) notes.push(`${where(p)}: ${displayName(id)} is also defined at ${where(dup)} in the previous manifests; the later one is used`);
    before.set(id.key, p);
  }
  const items: PlannedItem[] = [];
  const present = new Map<string, ParsedObject>();
  for (const subject of current) {
    const identity = identityOf(subject.object);
    const dup = present.get(identity.key);
    if (dup) notes.push(`${where(subject)}: ${displayName(identity)} is also defined at ${where(dup)}; both are checked, the later one serves as context`);
    present.set(identity.key, subject);
    const old = before.get(identity.key);
    items.push(old ? { operation: "UPDATE", identity, subject, previous: old } : { operation: "CREATE", identity, subject });
  }
  const untouched: ParsedObject[] = [];
  for (const [key, old] of before) {
    if (present.has(key)) continue;
    if (deletions) items.push({ operation: "DELETE", identity: identityOf(old.object), subject: old, previous: old });
    else untouched.push(old);
  }
  return { items, untouched, notes };
}
