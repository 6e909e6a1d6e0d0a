import { parseApiVersion } from "./object.js";
import type { JsonObject, JsonValue } from "./cel/value.js";

export type { JsonObject, JsonValue };

// ---- The policy document, as policies/policy.schema.json describes it. ----

export type Action = "Deny" | "Warn" | "Audit";
/** "ip": keys are IP addresses, queried by CIDR ranges; "field": keys are strings, queried by equality. */
export type IndexType = "ip" | "field";
export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface ResourceRule {
  apiGroups: string[];
  apiVersions: string[];
  resources: string[];
  operations: (Operation | "*")[];
}

export interface TargetSpec {
  apiVersion: string;
  kind: string;
  resource: string;
  namespaced?: boolean;
  fromSecret?: { namespace: string; name: string; key: string };
}

export interface OnMissingSpec {
  action: "Allow" | "Warn" | "Deny";
  message?: string;
  messageExpression?: string;
}

export interface LookupSpec {
  target: TargetSpec;
  get?: { name: string; namespace?: string };
  list?: { limit?: number };
  ipQuery?: { index: string; within?: string; outside?: string; limit?: number };
  indexQuery?: { index: string; key: string; anyOf?: string[]; limit?: number };
  onMissing?: "Null" | OnMissingSpec;
}

export interface PolicyDocument {
  apiVersion: "policies.virtguard.io/v1alpha1";
  kind: "ValidationPolicy";
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    description: string;
    failurePolicy?: "Fail" | "Ignore";
    match: { resourceRules: ResourceRule[]; namespaceSelector?: LabelSelector; objectSelector?: LabelSelector };
    matchConditions?: { name: string; expression: string }[];
    parameters?: { name: string; description: string; schema?: JsonObject; default?: JsonValue; assumed?: boolean; fromCluster?: "serverVersion" }[];
    indexes?: { name: string; target: TargetSpec; type: IndexType; key: string }[];
    variables?: { name: string; expression?: string; lookup?: LookupSpec }[];
    validations: { expression: string; message?: string; messageExpression?: string; action: Action; reason?: string }[];
    judgeEmbedded?: EmbeddedSpec;
  };
}

/** An object the matched one embeds (a pool's template), judged by the policies of its own kind. */
export interface EmbeddedSpec {
  /** Dotted path of the template: an object with optional `metadata` (labels, annotations) and `spec`. */
  path: string;
  /** What the parent's controller creates from it. */
  as: { apiVersion: string; kind: string; resource: string };
}

// ---- Requests: the parts of admission.k8s.io/v1 AdmissionRequest the engine reads. ----

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}
export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: JsonObject | null;
  oldObject?: JsonObject | null;
  dryRun?: boolean;
  options?: JsonObject | null;
}

// ---- Context: the cluster objects policies look up. ----

/** Objects are keyed by API group and kind, whatever version they were read at: "group/Kind". */
export type KindKey = string;

export function kindKeyOf(apiVersion: string, kind: string): KindKey {
  return `${parseApiVersion(apiVersion).group}/${kind}`;
}

export interface IPQuery {
  /** Keep objects whose key lies in one of these ranges (all objects when absent). */
  within?: readonly string[];
  /** Keep objects whose key lies in none of these ranges. */
  outside?: readonly string[];
  limit?: number;
}

/**
 * Where policies' lookups are answered from: files in CI, informer caches in a cluster.
 * Implementations return stored objects; the engine never mutates them.
 */
export interface ClusterContext {
  get(kind: KindKey, name: string, namespace?: string): JsonObject | undefined;
  list(kind: KindKey): readonly JsonObject[];
  ipQuery(kind: KindKey, index: string, query: IPQuery): readonly JsonObject[];
  /** The objects whose "field" index holds one of these keys, up to limit. */
  indexQuery(kind: KindKey, index: string, keys: readonly string[], limit?: number): readonly JsonObject[];
}

// ---- Results. ----

export interface Finding {
  policy: string;
  action: Action;
  message: string;
  reason?: string;
  /** Parameters the finding rests on that were not given: their defaults were assumed. */
  assumes?: string[];
}

export interface Verdict {
  allowed: boolean;
  /** Every Deny result, in policy order; empty when allowed. */
  denials: Finding[];
  warnings: Finding[];
  audits: Finding[];
  /** Policies that matched the request, for metrics and logs. */
  matched: string[];
}
