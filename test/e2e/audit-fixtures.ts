// Objects the audit e2e tests create: VMs of one class, the class, the cluster configuration
// Secret the policies read, and the PolicyReport CRDs.

import * as fs from "node:fs";
import * as path from "node:path";
import { readYaml } from "../../src/yaml/read.js";
import { repoRoot } from "./control-plane.js";

export function vm(name: string, cores: number): string {
  return JSON.stringify({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name, namespace: "vms" },
    spec: {
      virtualMachineClassName: "compute",
      cpu: { cores, coreFraction: "100%" },
      memory: { size: `${cores * 2}Gi` },
      blockDeviceRefs: [{ kind: "VirtualDisk", name: `${name}-root` }],
      runPolicy: "AlwaysOnUnlessStoppedManually",
      osType: "Generic",
      bootloader: "BIOS",
    },
  });
}

/**
 * No coreFractions: this control plane has no DVP conversion webhook, so a v1alpha3 class read at
 * v1alpha2 (the version the policies look classes up at) would keep its "NN%" strings there.
 */
export function computeClass(maxCores: number): string {
  return JSON.stringify({
    apiVersion: "virtualization.deckhouse.io/v1alpha3",
    kind: "VirtualMachineClass",
    metadata: { name: "compute" },
    spec: { cpu: { type: "Host" }, sizingPolicies: [{ cores: { min: 1, max: maxCores }, memory: { min: "1Gi", max: "32Gi" } }] },
  });
}

export const CLUSTER_CONFIGURATION_SECRET = JSON.stringify({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "d8-cluster-configuration", namespace: "kube-system" },
  data: {
    "cluster-configuration.yaml": Buffer.from("apiVersion: deckhouse.io/v1\nkind: ClusterConfiguration\nclusterType: Static\npodSubnetCIDR: 10.111.0.0/16\nserviceSubnetCIDR: 10.222.0.0/16\n").toString("base64"),
  },
});

/** The vendored PolicyReport CRD, and the ClusterPolicyReport one derived from it. */
export function policyReportCrds(): string {
  const namespaced = readYaml(fs.readFileSync(path.join(repoRoot(), "test", "e2e", "crds", "policyreport.yaml"), "utf8")) as {
    metadata: { name: string };
    spec: { scope: string; names: Record<string, unknown>; versions: { additionalPrinterColumns?: unknown }[] };
  };
  const cluster = structuredClone(namespaced);
  cluster.metadata.name = "clusterpolicyreports.wgpolicyk8s.io";
  cluster.spec.scope = "Cluster";
  cluster.spec.names = { kind: "ClusterPolicyReport", listKind: "ClusterPolicyReportList", plural: "clusterpolicyreports", singular: "clusterpolicyreport" };
  return [namespaced, cluster].map((d) => JSON.stringify(d)).join("\n---\n");
}

