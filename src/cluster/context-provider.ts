import { readObjectsFile } from "./files.js";
import { ObjectStore } from "./object-store.js";
import type { Registry } from "prom-client";
import type { ClusterContext, JsonObject, PolicySet } from "../engine/index.js";

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
  const objects: JsonObject[] = [];
  for (const file of files) for (const { object } of readObjectsFile(file)) objects.push(object);
  return {
    description: files.length === 0 ? "none" : `files: ${files.join(", ")}`,
    activate(set) {
      const store = new ObjectStore(set.indexes);
      for (const o of objects) store.upsert(o);
      return store;
    },
    notReady: () => undefined,
    close: async () => {},
  };
}
