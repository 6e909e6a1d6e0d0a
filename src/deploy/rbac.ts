/**
 * What virtguard may read in a cluster: the one list of its RBAC grants.
 *
 * manifests/rbac.yaml spells the same grants for kustomize, and `virtguard manifests` prints
 * them; test/deploy/manifests.test.ts checks that both grant exactly this, nothing more.
 * When the policies start declaring their lookups, this list can be derived from them.
 */

/** A kind that policies look up; the live context lists and watches it cluster-wide. */
export interface ClusterLookup {
  apiGroup: string;
  resource: string;
  kind: string;
}

export const LOOKUP_VERBS = ["get", "list", "watch"] as const;

export const CLUSTER_LOOKUPS: readonly ClusterLookup[] = [
  { apiGroup: "virtualization.deckhouse.io", resource: "virtualmachineclasses", kind: "VirtualMachineClass" },
  { apiGroup: "virtualization.deckhouse.io", resource: "virtualmachineipaddressleases", kind: "VirtualMachineIPAddressLease" },
  { apiGroup: "virtualization.deckhouse.io", resource: "virtualmachineipaddresses", kind: "VirtualMachineIPAddress" },
  { apiGroup: "virtualization.deckhouse.io", resource: "virtualmachines", kind: "VirtualMachine" },
  { apiGroup: "", resource: "nodes", kind: "Node" },
  { apiGroup: "", resource: "persistentvolumeclaims", kind: "PersistentVolumeClaim" },
  { apiGroup: "deckhouse.io", resource: "moduleconfigs", kind: "ModuleConfig" },
  { apiGroup: "network.deckhouse.io", resource: "systemnetworks", kind: "SystemNetwork" },
];

/**
 * The Secret holding Deckhouse's ClusterConfiguration (pod and service subnets), and only it:
 * the live context reads it with `get` and follows it with a watch selecting `metadata.name`,
 * which RBAC authorises by resourceName.
 */
export const CLUSTER_CONFIGURATION_SECRET = {
  namespace: "kube-system",
  name: "d8-cluster-configuration",
  key: "cluster-configuration.yaml",
  verbs: ["get", "watch"] as const,
};

/** An RBAC PolicyRule as it appears in a (Cluster)Role. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** One atomic permission: a verb on a resource, optionally limited to a namespace and a name. */
export interface Grant {
  namespace: string; // "*" for cluster-wide
  apiGroup: string;
  resource: string;
  verb: string;
  resourceName: string; // "*" for any
}

/** The ClusterRole's rules: one rule per API group, resources sorted. */
export function clusterRoleRules(): PolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const l of CLUSTER_LOOKUPS) byGroup.set(l.apiGroup, [...(byGroup.get(l.apiGroup) ?? []), l.resource]);
  return [...byGroup.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([group, resources]) => ({ apiGroups: [group], resources: [...resources].sort(), verbs: [...LOOKUP_VERBS] }));
}

/** The kube-system Role's rules. */
export function clusterConfigurationRoleRules(): PolicyRule[] {
  return [{ apiGroups: [""], resources: ["secrets"], resourceNames: [CLUSTER_CONFIGURATION_SECRET.name], verbs: [...CLUSTER_CONFIGURATION_SECRET.verbs] }];
}

/** Every permission virtguard should hold, flattened and sorted. */
export function expectedGrants(): Grant[] {
  const grants: Grant[] = [];
  for (const l of CLUSTER_LOOKUPS) {
    for (const verb of LOOKUP_VERBS) grants.push({ namespace: "*", apiGroup: l.apiGroup, resource: l.resource, verb, resourceName: "*" });
  }
  for (const verb of CLUSTER_CONFIGURATION_SECRET.verbs) {
    grants.push({
      namespace: CLUSTER_CONFIGURATION_SECRET.namespace,
      apiGroup: "",
      resource: "secrets",
      verb,
      resourceName: CLUSTER_CONFIGURATION_SECRET.name,
    });
  }
  return sortGrants(grants);
}

/** Flattens rules into grants (a ClusterRole's under namespace "*"). */
export function grantsOf(rules: PolicyRule[], namespace: string): Grant[] {
  const grants: Grant[] = [];
  for (const r of rules) {
    for (const apiGroup of r.apiGroups) {
      for (const resource of r.resources) {
        for (const verb of r.verbs) {
          for (const resourceName of r.resourceNames && r.resourceNames.length > 0 ? r.resourceNames : ["*"]) {
            grants.push({ namespace, apiGroup, resource, verb, resourceName });
          }
        }
      }
    }
  }
  return sortGrants(grants);
}

export function sortGrants(grants: Grant[]): Grant[] {
  const key = (g: Grant): string => [g.namespace, g.apiGroup, g.resource, g.verb, g.resourceName].join("\u0000");
  return [...grants].sort((a, b) => key(a).localeCompare(key(b)));
}
