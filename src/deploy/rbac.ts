/**
 * What virtguard may read in a cluster, derived from the lookups the policies declare
 * (PolicySet.targets): the live context lists and watches every looked-up kind cluster-wide; a
 * kind whose lookups all name one object (LookupTarget.only) it lists and watches with a
 * `metadata.name` field selector, which RBAC authorises by resourceName (in the object's
 * namespace for a namespaced kind); and it reads a `fromSecret` target's one Secret with `get`
 * and a watch selecting `metadata.name` the same way.
 *
 * `virtguard manifests` writes these rules into the ClusterRole and the Roles of the kustomize base;
 * test/deploy/manifests.test.ts checks that manifests/rbac.yaml grants exactly what the shipped
 * policies need, nothing more.
 */
import { parseApiVersion, type PolicySet } from "../engine/index.js";

export const LOOKUP_VERBS = ["get", "list", "watch"] as const;
export const SECRET_VERBS = ["get", "watch"] as const;

/** An RBAC PolicyRule as it appears in a (Cluster)Role. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The rules a policy set needs: cluster-wide, and per namespace (the Secrets it reads). */
export interface LookupRbac {
  clusterRules: PolicyRule[];
  namespaceRules: Map<string, PolicyRule[]>;
}

/** One atomic permission: a verb on a resource, optionally limited to a namespace and a name. */
export interface Grant {
  namespace: string; // "*" for cluster-wide
  apiGroup: string;
  resource: string;
  verb: string;
  resourceName: string; // "*" for any
}

/**
 * The rules for the set's lookups: one cluster rule per API group (resources sorted) for the kinds
 * read whole; one rule with `resourceNames` per kind whose lookups all name one object (in a Role
 * of its namespace when namespaced); one Secret rule per namespace for the kinds read from a Secret.
 */
export function lookupRbac(set: Pick<PolicySet, "targets">): LookupRbac {
  const byGroup = new Map<string, Set<string>>();
  const named: { namespace?: string; rule: PolicyRule }[] = [];
  const secrets = new Map<string, Set<string>>();
  for (const target of set.targets.values()) {
    if (target.fromSecret) {
      const names = secrets.get(target.fromSecret.namespace) ?? new Set<string>();
      secrets.set(target.fromSecret.namespace, names.add(target.fromSecret.name));
      continue;
    }
    const { group } = parseApiVersion(target.apiVersion);
    if (target.only) {
      // The informer lists and watches it with a metadata.name field selector, which RBAC
      // authorises by resourceName.
      named.push({ namespace: target.only.namespace, rule: { apiGroups: [group], resources: [target.resource], resourceNames: [target.only.name], verbs: [...LOOKUP_VERBS] } });
      continue;
    }
    byGroup.set(group, (byGroup.get(group) ?? new Set<string>()).add(target.resource));
  }
  const ruleKey = (r: PolicyRule): string => [r.apiGroups[0], r.resources[0], r.resourceNames?.[0] ?? ""].join("\u0000");
  // Code-unit order: localeCompare ignores the separator, and would put "apps" before "".
  const byKey = (a: PolicyRule, b: PolicyRule): number => (ruleKey(a) < ruleKey(b) ? -1 : ruleKey(a) > ruleKey(b) ? 1 : 0);
  const clusterRules = [
    ...[...byGroup.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([group, resources]) => ({ apiGroups: [group], resources: [...resources].sort(), verbs: [...LOOKUP_VERBS] })),
    ...named
      .filter((n) => n.namespace === undefined)
      .map((n) => n.rule)
      .sort(byKey),
  ];
  const namespaced = new Map<string, PolicyRule[]>();
  for (const n of named) if (n.namespace !== undefined) namespaced.set(n.namespace, [...(namespaced.get(n.namespace) ?? []), n.rule]);
  for (const [namespace, names] of secrets) {
    namespaced.set(namespace, [...(namespaced.get(namespace) ?? []), { apiGroups: [""], resources: ["secrets"], resourceNames: [...names].sort(), verbs: [...SECRET_VERBS] }]);
  }
  const namespaceRules = new Map<string, PolicyRule[]>();
  for (const [namespace, rules] of [...namespaced.entries()].sort(([a], [b]) => a.localeCompare(b))) namespaceRules.set(namespace, rules.sort(byKey));
  return { clusterRules, namespaceRules };
}

/** Every permission the set needs, flattened and sorted. */
export function expectedGrants(set: Pick<PolicySet, "targets">): Grant[] {
  const rbac = lookupRbac(set);
  return sortGrants([...grantsOf(rbac.clusterRules, "*"), ...[...rbac.namespaceRules].flatMap(([ns, rules]) => grantsOf(rules, ns))]);
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

/** The Lease the replicas of `serve --audit-interval` elect the report writer on, in virtguard's namespace. */
export const AUDIT_LEASE = "virtguard-audit";

/**
 * What the background audit writes, and nothing else: its PolicyReports (every namespace) and
 * ClusterPolicyReport, and its one Lease. `create` cannot be limited by name (the object does not
 * exist yet); get and update of the Lease are.
 */
export const AUDIT_RBAC: { clusterRules: PolicyRule[]; namespaceRules: PolicyRule[] } = {
  clusterRules: [{ apiGroups: ["wgpolicyk8s.io"], resources: ["clusterpolicyreports", "policyreports"], verbs: ["create", "delete", "get", "list", "update"] }],
  namespaceRules: [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [AUDIT_LEASE], verbs: ["get", "update"] },
  ],
};

/** Every permission the background audit needs, with its Lease in `namespace`. */
export function auditGrants(namespace: string): Grant[] {
  return sortGrants([...grantsOf(AUDIT_RBAC.clusterRules, "*"), ...grantsOf(AUDIT_RBAC.namespaceRules, namespace)]);
}
