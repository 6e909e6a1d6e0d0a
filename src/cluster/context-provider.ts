import { readObjectsFile } from "./files.js";
import { ObjectStore } from "./object-store.js";
import type { Registry } from "prom-client";
import type { ClusterContext, ClusterFacts, IndexDefinition, JsonObject, PolicySet } from "../engine/index.js";

/**
 * Where the server's policies look cluster objects up. `serve` builds one provider at start:
 * from `--context` files today; from live informers (`--kubeconfig` or in-cluster config) later,
 * behind this same interface.
 */
export interface ContextProvider {
  /** For logs: "files: a.yaml, b.yaml", "none", "cluster (in-cluster config)". */
  readonly description: string;
  /**
   * The context for a policy set, called before the set starts serving (at start and on every
   * reload). A set may index or look up different kinds than the last one: a live provider starts
   * or stops watches here. Throwing rejects the set (the last good one keeps serving).
   */
  activate(set: PolicySet): Promise<ClusterContext> | ClusterContext;
  /** Undefined when lookups can be trusted; otherwise why not (for /readyz). */
  notReady(): string | undefined;
  /**
   * What the cluster states about itself, for parameters declared `fromCluster` (read at start and
   * on every reload). A live cluster only; a fact it cannot read is absent, never an error.
   */
  clusterFacts?(): Promise<ClusterFacts>;
  /** Adds the provider's own metrics (the live cache's sizes and sync age) to the server's registry. */
  registerMetrics?(registry: Registry): void;
  /** Stops watches; called once on shutdown. */
  close(): Promise<void>;
}

/**
 * Objects from files, read once at start (a Kubernetes object per YAML document, or a List).
 * Every activation builds a fresh store with the indexes that set declares.
 */
export function fileContextProvider(files: readonly string[]): ContextProvider {
  const objects = readContextFiles(files);
  return {
    description: files.length === 0 ? "none" : `files: ${files.join(", ")}`,
    activate: (set) => ObjectStore.of(objects, set.indexes),
    notReady: () => undefined,
    close: async () => {},
  };
}

/** The objects of context files (a Kubernetes object per YAML document, or a List), in file order. */
export function readContextFiles(files: readonly string[]): JsonObject[] {
  return files.flatMap((file) => readObjectsFile(file).map((p) => p.object));
}

/** Context for dry runs (`review`): the objects in the given files, indexed as the policies ask. */
export function loadFileContext(files: readonly string[], indexes: readonly IndexDefinition[]): ObjectStore {
  return ObjectStore.of(readContextFiles(files), indexes);
}
