import { kindKeyOf, type ClusterContext, type IPQuery, type JsonObject, type KindKey } from "../engine/index.js";

/** A context that can change: the check's ObjectStore. */
export interface MutableContext extends ClusterContext {
  upsert(object: JsonObject): void;
  delete(object: JsonObject): void;
}

/**
 * Manifests the API server would refuse on their schema: they never reach the cluster, so they are
 * no context for the others. A lookup that would have found one is remembered, so that what it
 * made fail can say why.
 */
export class RejectedObjects {
  private readonly byKind = new Map<KindKey, Map<string, string>>();
  private readonly objects: JsonObject[] = [];

  /** `where` is how the report names it, e.g. "ModuleConfig/virtualization (mc.yaml:1)". */
  add(object: JsonObject, where: string): void {
    const kind = kindKeyOf(String(object.apiVersion ?? ""), String(object.kind ?? ""));
    const m = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    if (typeof m.name !== "string" || m.name === "") return;
    let names = this.byKind.get(kind);
    if (!names) this.byKind.set(kind, (names = new Map()));
    names.set(`${typeof m.namespace === "string" ? m.namespace : ""}/${m.name}`, where);
    this.objects.push(object);
  }

  /**
   * Runs fn with the rejected manifests in the store, as if their schema had let them through, and
   * puts the store back: what a finding owes to their absence shows as a difference.
   */
  asIfAccepted<T>(store: MutableContext, fn: () => T): T {
    const replaced = this.objects.map((o) => {
      const m = o.metadata as { name: string; namespace?: string };
      const before = store.get(kindKeyOf(String(o.apiVersion), String(o.kind)), m.name, m.namespace);
      store.upsert(o);
      return { object: o, before };
    });
    try {
      return fn();
    } finally {
      for (const { object, before } of replaced.reverse()) {
        if (before) store.upsert(before);
        else store.delete(object);
      }
    }
  }

  get size(): number {
    return this.byKind.size;
  }

  /** The store as lookups see it, noting each rejected manifest a lookup missed. */
  watching(store: ClusterContext, consulted: Set<string>): ClusterContext {
    const byKind = this.byKind;
    return {
      get(kind: KindKey, name: string, namespace?: string): JsonObject | undefined {
        const found = store.get(kind, name, namespace);
        if (!found) {
          const where = byKind.get(kind)?.get(`${namespace ?? ""}/${name}`);
          if (where) consulted.add(where);
        }
        return found;
      },
      list(kind: KindKey): readonly JsonObject[] {
        for (const where of byKind.get(kind)?.values() ?? []) consulted.add(where);
        return store.list(kind);
      },
      ipQuery(kind: KindKey, index: string, query: IPQuery): readonly JsonObject[] {
        for (const where of byKind.get(kind)?.values() ?? []) consulted.add(where);
        return store.ipQuery(kind, index, query);
      },
      indexQuery(kind: KindKey, index: string, keys: readonly string[], limit?: number): readonly JsonObject[] {
        for (const where of byKind.get(kind)?.values() ?? []) consulted.add(where);
        return store.indexQuery(kind, index, keys, limit);
      },
    };
  }
}
