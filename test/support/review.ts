import type { AdmissionRequest, JsonObject, Operation } from "../../src/engine/index.js";

/** Plural resource names of the kinds tests send; the API server sends these in request.resource. */
const RESOURCES: Record<string, string> = {
  VirtualMachine: "virtualmachines",
  VirtualMachineClass: "virtualmachineclasses",
  ModuleConfig: "moduleconfigs",
  VirtualMachineIPAddress: "virtualmachineipaddresses",
  VirtualMachineIPAddressLease: "virtualmachineipaddressleases",
  ConfigMap: "configmaps",
  Pod: "pods",
};

export interface RequestOptions {
  operation?: Operation;
  object?: JsonObject | null;
  oldObject?: JsonObject | null;
  uid?: string;
  username?: string;
  dryRun?: boolean;
}

/** An AdmissionRequest shaped as the API server sends it, derived from the object itself. */
export function admissionRequest(opts: RequestOptions): AdmissionRequest {
  const subject = opts.object ?? opts.oldObject;
  if (!subject) throw new Error("admissionRequest needs object or oldObject");
  const apiVersion = String(subject.apiVersion);
  const slash = apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  const kind = String(subject.kind);
  const resource = RESOURCES[kind];
  if (!resource) throw new Error(`test support: no resource name known for kind ${kind}`);
  const metadata = (subject.metadata ?? {}) as { name?: string; namespace?: string };
  const operation = opts.operation ?? (opts.object && opts.oldObject ? "UPDATE" : opts.object ? "CREATE" : "DELETE");
  const request: AdmissionRequest = {
    uid: opts.uid ?? "705ab4f5-6393-11e8-b7cc-42010a800002",
    kind: { group, version, kind },
    resource: { group, version, resource },
    requestKind: { group, version, kind },
    requestResource: { group, version, resource },
    name: metadata.name,
    operation,
    userInfo: { username: opts.username ?? "tenant-admin", groups: ["system:authenticated"] },
    object: operation === "DELETE" ? null : (opts.object ?? null),
    oldObject: opts.oldObject ?? null,
    dryRun: opts.dryRun ?? false,
  };
  if (metadata.namespace) request.namespace = metadata.namespace;
  return request;
}

/** The same request wrapped as an admission.k8s.io/v1 AdmissionReview, as sent on the wire. */
export function admissionReview(opts: RequestOptions): JsonObject {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: admissionRequest(opts) as unknown as JsonObject };
}
