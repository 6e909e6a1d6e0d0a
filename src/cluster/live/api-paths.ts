import { parseApiVersion, type LookupTarget, type TargetSpec } from "../../engine/index.js";

/**
 * REST paths of a target kind. Kinds are listed and watched cluster-wide (a namespaced kind across
 * all namespaces): policies look objects up in any namespace.
 */
export function collectionPath(target: Pick<TargetSpec, "apiVersion" | "resource">, namespace?: string): string {
  const base = target.apiVersion.includes("/") ? `/apis/${target.apiVersion}` : `/api/${target.apiVersion}`;
  return namespace === undefined ? `${base}/${target.resource}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${target.resource}`;
}

/** What a log line or a readiness reason calls a target: "VirtualMachineClass (virtualmachineclasses.virtualization.deckhouse.io/v1alpha2)". */
export function describeTarget(target: LookupTarget): string {
  if (target.fromSecret) {
    const s = target.fromSecret;
    return `${target.kind} (from Secret ${s.namespace}/${s.name}, key ${s.key})`;
  }
  const { group, version } = parseApiVersion(target.apiVersion);
  const only = target.only ? `, only ${target.only.namespace ? `${target.only.namespace}/` : ""}${target.only.name}` : "";
  return `${target.kind} (${target.resource}${group === "" ? "" : `.${group}`}/${version}${only})`;
}
