import type { JsonObject } from "../../src/engine/index.js";

/** A minimal valid policy document for VirtualMachines, with parts overridden per test. */
export function policyDoc(name: string, spec: JsonObject = {}): JsonObject {
  return {
    apiVersion: "policies.virtguard.io/v1alpha1",
    kind: "ValidationPolicy",
    metadata: { name },
    spec: {
      description: "test policy",
      match: {
        resourceRules: [{ apiGroups: ["virtualization.deckhouse.io"], apiVersions: ["*"], resources: ["virtualmachines"], operations: ["CREATE", "UPDATE"] }],
      },
      validations: [{ expression: "true", message: "never", action: "Deny" }],
      ...spec,
    },
  };
}

export function source(file: string, doc: JsonObject | string) {
  return { file, text: typeof doc === "string" ? doc : JSON.stringify(doc, null, 2) };
}
