import { groupVersionKind, isObject, type AdmissionRequest, type JsonObject, type Operation, type PolicySet } from "../engine/index.js";

/** Who a dry run's requests come from, for policies that read request.userInfo. */
export const DRY_RUN_USER = { username: "virtguard:dry-run", groups: ["system:authenticated"] };

/**
 * The plural resource name the API server would put in request.resource: from the CRD when one
 * was read, else from a policy that names the kind as a lookup target, else guessed the way
 * Kubernetes guesses it (lower case; -s → -ses, -y → -ies, otherwise + s).
 */
export function resourceFor(group: string, kind: string, set: PolicySet, known?: ReadonlyMap<string, string>): string {
  const key = `${group}/${kind}`;
  const fromCrd = known?.get(key);
  if (fromCrd) return fromCrd;
  const target = set.targets.get(key);
  if (target) return target.resource;
  const lower = kind.toLowerCase();
  if (lower.endsWith("endpoints")) return lower;
  if (lower.endsWith("s")) return `${lower}es`;
  if (lower.endsWith("y") && !/[aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

export interface RequestParts {
  uid: string;
  operation: Operation;
  /** The new object (null on DELETE). */
  object: JsonObject | null;
  /** The previous version (null on CREATE). */
  oldObject: JsonObject | null;
}

/** An AdmissionRequest as the API server would send it for this object, derived from the object itself. */
export function requestFor(parts: RequestParts, set: PolicySet, resources?: ReadonlyMap<string, string>): AdmissionRequest {
  const subject = parts.object ?? parts.oldObject;
  if (!subject) throw new Error("a request needs an object or an old object");
  const { group, version, kind } = groupVersionKind(subject);
  const resource = resourceFor(group, kind, set, resources);
  const m = isObject(subject.metadata) ? subject.metadata : {};
  const request: AdmissionRequest = {
    uid: parts.uid,
    kind: { group, version, kind },
    resource: { group, version, resource },
    requestKind: { group, version, kind },
    requestResource: { group, version, resource },
    operation: parts.operation,
    userInfo: DRY_RUN_USER,
    object: parts.object,
    oldObject: parts.oldObject,
    dryRun: true,
  };
  if (typeof m.name === "string") request.name = m.name;
  if (typeof m.namespace === "string" && m.namespace !== "") request.namespace = m.namespace;
  return request;
}
