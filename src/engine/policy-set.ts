import type { CompiledExpression } from "./cel/compile.js";
import type { NamedObject } from "./named-objects.js";
import type { EmbeddedSpec, IndexType, JsonObject, JsonValue, KindKey, LabelSelector, OnMissingSpec, ResourceRule, TargetSpec } from "./types.js";

export type CompiledVariable =
  | { name: string; type: "expression"; expr: CompiledExpression }
  | {
      name: string;
      type: "get";
      kind: KindKey;
      /** Namespaced kinds default to the request's namespace; cluster-scoped ones have none. */
      namespaced: boolean;
      objectName: CompiledExpression;
      namespace?: CompiledExpression;
      onMissing: "Null" | (OnMissingSpec & { messageExpr?: CompiledExpression });
    }
  | { name: string; type: "list"; kind: KindKey; limit?: number }
  | {
      name: string;
      type: "ipQuery";
      kind: KindKey;
      index: string;
      within?: CompiledExpression;
      outside?: CompiledExpression;
      limit?: number;
    }
  | {
      name: string;
      type: "indexQuery";
      kind: KindKey;
      index: string;
      key: CompiledExpression;
      /** Keeps the objects for which any is true, each evaluated with the object as `item`. */
      anyOf?: CompiledExpression[];
      /** At most this many objects are taken from the index (and examined by anyOf). */
      limit?: number;
    };

export interface CompiledValidation {
  expr: CompiledExpression;
  action: "Deny" | "Warn" | "Audit";
  message?: string;
  messageExpr?: CompiledExpression;
  reason?: string;
}

export interface CompiledPolicy {
  name: string;
  description: string;
  file: string;
  failurePolicy: "Fail" | "Ignore";
  rules: ResourceRule[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  matchConditions: { name: string; expr: CompiledExpression }[];
  variables: CompiledVariable[];
  validations: CompiledValidation[];
  judgeEmbedded?: EmbeddedSpec;
}

/** What a live context source can read of the cluster itself: the API server's version ("v1.33.4"). */
export type ClusterFact = "serverVersion";
export type ClusterFacts = Partial<Record<ClusterFact, JsonValue>>;

export interface ParameterDeclaration {
  name: string;
  description: string;
  schema?: JsonObject;
  default?: JsonValue;
  /** The default is a guess about the cluster: findings resting on it say so when no value is given. */
  assumed?: boolean;
  /** A fact the cluster states about itself that gives the value when none is given (serve, audit --cluster). */
  fromCluster?: ClusterFact;
  /** Policies that declare it. */
  declaredBy: string[];
}

/** An index a context source must maintain, with the function that extracts its keys. */
export interface IndexDefinition {
  kind: KindKey;
  name: string;
  type: IndexType;
  keysOf(object: JsonObject): string[];
}

/**
 * A kind the policies look up, with how to watch it. `only` is set when every lookup of the kind
 * names one object with constants: then that object is all a cluster context needs to hold, and
 * all RBAC needs to grant.
 */
export type LookupTarget = TargetSpec & { readonly only?: NamedObject };

/** A loaded, compiled, immutable policy set. Evaluating a request against it parses nothing. */
export interface PolicySet {
  readonly policies: readonly CompiledPolicy[];
  readonly parameters: ReadonlyMap<string, ParameterDeclaration>;
  readonly indexes: readonly IndexDefinition[];
  /** Every kind the policies look up, with how to watch it. */
  readonly targets: ReadonlyMap<KindKey, LookupTarget>;
  /** A digest of the sources: equal sets have equal hashes. */
  readonly hash: string;
}
