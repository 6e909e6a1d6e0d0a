import { FieldIndex, IPIndex, kindKeyOf, type ClusterContext, type IndexDefinition, type IPQuery, type JsonObject, type KindKey } from "../engine/index.js";

interface KindBucket {
  byName: Map<string, JsonObject>;
  /** list() result, rebuilt lazily after a change: reads vastly outnumber writes. */
  listed?: readonly JsonObject[];
  indexes: Map<string, { index: IPIndex | FieldIndex; definition: IndexDefinition }>;
}

const EMPTY: readonly JsonObject[] = Object.freeze([]);

function nameOf(object: JsonObject): { name: string; namespace: string } {
  const metadata = (object.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  return {
    name: typeof metadata.name === "string" ? metadata.name : "",
    namespace: typeof metadata.namespace === "string" ? metadata.namespace : "",
  };
}

/**
 * The objects policies look up, kept by kind and name with the IP indexes the policies declare.
 * Both context sources fill one: the file loader once, the informers on every event.
 */
export class ObjectStore implements ClusterContext {
  private readonly kinds = new Map<KindKey, KindBucket>();

  constructor(private readonly indexDefinitions: readonly IndexDefinition[] = []) {}

  /** A store holding these objects, with the given indexes. */
  static of(objects: Iterable<JsonObject>, indexDefinitions: readonly IndexDefinition[]): ObjectStore {
    const store = new ObjectStore(indexDefinitions);
    for (const o of objects) store.upsert(o);
    return store;
  }

  private bucket(kind: KindKey): KindBucket {
    let b = this.kinds.get(kind);
    if (!b) {
      b = { byName: new Map(), indexes: new Map() };
      for (const d of this.indexDefinitions) {
        if (d.kind === kind) b.indexes.set(d.name, { index: d.type === "ip" ? new IPIndex() : new FieldIndex(), definition: d });
      }
      this.kinds.set(kind, b);
    }
    return b;
  }

  static keyOf(object: JsonObject): KindKey {
    return kindKeyOf(String(object.apiVersion ?? ""), String(object.kind ?? ""));
  }

  /** Adds or replaces an object; it must not be mutated afterwards. */
  upsert(object: JsonObject, kind: KindKey = ObjectStore.keyOf(object)): void {
    const b = this.bucket(kind);
    const { name, namespace } = nameOf(object);
    const id = `${namespace}/${name}`;
    const previous = b.byName.get(id);
    if (previous) for (const { index } of b.indexes.values()) index.delete(previous);
    b.byName.set(id, object);
    for (const { index, definition } of b.indexes.values()) index.add(object, definition.keysOf(object));
    b.listed = undefined;
  }

  delete(object: JsonObject, kind: KindKey = ObjectStore.keyOf(object)): void {
    const b = this.kinds.get(kind);
    if (!b) return;
    const { name, namespace } = nameOf(object);
    const id = `${namespace}/${name}`;
    const previous = b.byName.get(id);
    if (!previous) return;
    b.byName.delete(id);
    for (const { index } of b.indexes.values()) index.delete(previous);
    b.listed = undefined;
  }

  /** Replaces every object of a kind at once (a re-list). */
  replaceAll(kind: KindKey, objects: readonly JsonObject[]): void {
    this.kinds.delete(kind);
    const b = this.bucket(kind);
    for (const o of objects) this.upsert(o, kind);
    b.listed = undefined;
  }

  /**
   * Replaces each object with reshape(object) where that returns another object, e.g. context files'
   * cluster-scoped objects without the namespace kustomize gave them, once their kinds' scopes are known.
   */
  reshapeEach(reshape: (object: JsonObject) => JsonObject): void {
    for (const [kind, b] of this.kinds) {
      for (const object of [...b.byName.values()]) {
        const next = reshape(object);
        if (next === object) continue;
        this.delete(object, kind);
        this.upsert(next, kind);
      }
    }
  }

  size(kind: KindKey): number {
    return this.kinds.get(kind)?.byName.size ?? 0;
  }

  get(kind: KindKey, name: string, namespace?: string): JsonObject | undefined {
    const b = this.kinds.get(kind);
    if (!b) return undefined;
    return b.byName.get(`${namespace ?? ""}/${name}`);
  }

  list(kind: KindKey): readonly JsonObject[] {
    const b = this.kinds.get(kind);
    if (!b) return EMPTY;
    return (b.listed ??= [...b.byName.values()]);
  }

  ipQuery(kind: KindKey, index: string, query: IPQuery): readonly JsonObject[] {
    const found = this.index(kind, index, "ip");
    return found instanceof IPIndex ? found.query(query) : EMPTY;
  }

  indexQuery(kind: KindKey, index: string, keys: readonly string[], limit?: number): readonly JsonObject[] {
    const found = this.index(kind, index, "field");
    return found instanceof FieldIndex ? found.query(keys, limit) : EMPTY;
  }

  private index(kind: KindKey, name: string, type: IndexDefinition["type"]): IPIndex | FieldIndex | undefined {
    const entry = this.kinds.get(kind)?.indexes.get(name);
    if (entry && entry.definition.type === type) return entry.index;
    // A kind with no objects yet has no bucket; an undeclared index is a programming error.
    if (!entry && this.indexDefinitions.some((d) => d.kind === kind && d.name === name && d.type === type)) return undefined;
    throw new Error(`no ${type} index "${name}" on ${kind}`);
  }
}
