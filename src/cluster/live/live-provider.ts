import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ContextProvider } from "../context-provider.js";
import type { ClusterContext, ClusterFacts, IPQuery, JsonObject, KindKey, PolicySet } from "../../engine/index.js";
import { getJson } from "./api-client.js";
import { ObjectStore } from "../object-store.js";
import { KindWatch, type KindSink, type KindWatchOptions } from "./kind-watch.js";
import { CacheMetrics } from "./metrics.js";

/**
 * How lookups treat a kind whose cache has not been in sync with the API server for longer than
 * `afterMs` (its watch failed and re-lists keep failing):
 * - "fail": the lookup throws; the policy that made it reports "could not be evaluated" under its
 *   own failurePolicy (Fail: the request is denied with the reason; Ignore: audited and allowed);
 * - "serve": the lookup answers from the stale cache, and a warning is logged (once a minute per kind).
 * A kind that has never been listed cannot be served at all: its lookups always throw.
 */
export interface StalenessSetting {
  afterMs: number;
  mode: "fail" | "serve";
}

export const DEFAULT_STALENESS: StalenessSetting = { afterMs: 120_000, mode: "fail" };

export interface LiveProviderOptions {
  kc: KubeConfig;
  /** For logs: "cluster (kubeconfig …)". */
  description: string;
  logger: Logger;
  staleness?: StalenessSetting;
  /** Top-level fields set over the object of a fromSecret target, by kind (the subnet flags). */
  overrides?: ReadonlyMap<KindKey, JsonObject>;
  /** Passed to every kind's watch (tests shorten the backoff). */
  watch?: Omit<KindWatchOptions, "overrides" | "onPhase">;
}

/** Thrown by a lookup that the staleness setting refuses; the engine reports it per policy. */
export class StaleCacheError extends Error {}

/**
 * The live cluster context: one informer per kind the loaded policies look up (PolicySet.targets),
 * feeding an ObjectStore with the indexes they declare. A policy reload that looks up other kinds
 * starts and stops informers; kinds kept keep their objects.
 */
export class LiveContextProvider implements ContextProvider {
  readonly description: string;
  private readonly watches = new Map<KindKey, KindWatch>();
  private store = new ObjectStore();
  private readonly staleness: StalenessSetting;
  private readonly metrics: CacheMetrics;
  private readonly lastStaleWarning = new Map<KindKey, number>();
  private closed = false;
  /** ms timestamp of the first activation, and of the moment every kind was first synced. */
  readonly startedAt = Date.now();
  readyAt: number | undefined;

  /** Every event goes to the store of the latest activation. */
  private readonly sink: KindSink = {
    replaceAll: (kind, objects) => this.store.replaceAll(kind, objects),
    upsert: (kind, object) => this.store.upsert(object, kind),
    delete: (kind, object) => this.store.delete(object, kind),
    get: (kind, name, namespace) => this.store.get(kind, name, namespace),
  };

  constructor(private readonly opts: LiveProviderOptions) {
    this.description = opts.description;
    this.staleness = opts.staleness ?? DEFAULT_STALENESS;
    this.metrics = new CacheMetrics(
      () => this.watches.values(),
      (w) => this.store.size(w.kind),
    );
  }

  activate(set: PolicySet): ClusterContext {
    if (this.closed) throw new Error("the live cluster context is closed");
    const previous = this.store;
    const store = new ObjectStore(set.indexes);
    // Kinds kept from the last set: their objects move over, re-indexed as the new set says.
    for (const kind of set.targets.keys()) if (this.watches.has(kind)) store.replaceAll(kind, previous.list(kind));
    this.store = store;
    for (const [kind, watch] of this.watches) {
      if (set.targets.has(kind)) continue;
      watch.stop();
      this.watches.delete(kind);
      this.opts.logger.info({ kind }, `${watch.description}: no policy looks it up any more; watch stopped`);
    }
    for (const [kind, target] of set.targets) {
      if (this.watches.has(kind)) continue;
      const overrides = this.opts.overrides?.get(kind);
      if (overrides && !target.fromSecret) this.opts.logger.warn({ kind }, `overrides for ${target.kind} apply only to a kind read from a Secret; ignored`);
      const watch = new KindWatch(kind, target, this.opts.kc, this.sink, this.opts.logger, {
        ...this.opts.watch,
        overrides: target.fromSecret ? overrides : undefined,
        onPhase: () => this.onPhase(),
      });
      this.watches.set(kind, watch);
      watch.start();
      this.opts.logger.info({ kind }, `${watch.description}: listing, then watching`);
    }
    for (const kind of this.opts.overrides?.keys() ?? []) {
      if (!set.targets.has(kind)) this.opts.logger.info({ kind }, `no policy looks up ${kind}: its overrides are unused`);
    }
    return new LiveContext(store, this);
  }

  private onPhase(): void {
    if (this.readyAt === undefined && this.notReady() === undefined) {
      this.readyAt = Date.now();
      const missing = [...this.watches.values()].filter((w) => w.state.phase === "missing").map((w) => w.target.kind);
      this.opts.logger.info(
        { tookMs: this.readyAt - this.startedAt, kinds: this.watches.size, missing, objects: Object.fromEntries([...this.watches.values()].map((w) => [w.target.kind, this.store.size(w.kind)])) },
        "cluster caches synced: ready",
      );
    }
  }

  notReady(): string | undefined {
    if (this.closed) return "closed";
    const waiting: string[] = [];
    for (const w of this.watches.values()) {
      if (w.state.synced) continue;
      waiting.push(w.state.lastError ? `${w.target.kind}: ${w.state.lastError} (retrying)` : `${w.target.kind}: first list in progress`);
    }
    return waiting.length === 0 ? undefined : `waiting for the first list of ${waiting.join("; ")}`;
  }

  /**
   * The API server's version (GET /version, readable by every authenticated client). Read on each
   * call, i.e. at start and on every policy reload; when it cannot be read, the fact is absent and
   * the parameters it feeds keep their defaults.
   */
  async clusterFacts(): Promise<ClusterFacts> {
    try {
      const version = await getJson<{ gitVersion?: unknown }>(this.opts.kc, "/version", { timeoutMs: 10_000 });
      return typeof version.gitVersion === "string" ? { serverVersion: version.gitVersion } : {};
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, "cannot read the API server's version; parameters taken from it keep their defaults");
      return {};
    }
  }

  registerMetrics(registry: Registry): void {
    this.metrics.register(registry);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches.values()) w.stop();
    this.watches.clear();
  }

  /** Per-kind state, for tests and diagnostics. */
  status(): { kind: KindKey; phase: string; objects: number; lists: number; errors: number; staleMs: number; lastError?: string }[] {
    return [...this.watches.values()].map((w) => ({
      kind: w.kind,
      phase: w.state.phase,
      objects: this.store.size(w.kind),
      lists: w.state.lists,
      errors: w.state.errors,
      staleMs: w.state.staleMs(),
      lastError: w.state.lastError,
    }));
  }

  /** Throws when the staleness setting refuses lookups of the kind; called on every lookup. */
  check(kind: KindKey): void {
    const w = this.watches.get(kind);
    // Not a watched kind (no policy declared it): the store has nothing, as from files.
    if (!w || w.state.phase === "watching" || w.state.phase === "missing") return;
    if (!w.state.synced) {
      throw new StaleCacheError(`the cluster cache of ${w.target.kind} is not synced yet${w.state.lastError ? ` (${w.state.lastError})` : ""}`);
    }
    const stale = w.state.staleMs();
    if (stale <= this.staleness.afterMs) return;
    const what = `the cluster cache of ${w.target.kind} is stale: not in sync with the API server for ${Math.round(stale / 1000)} s (${w.state.lastError ?? "reconnecting"})`;
    if (this.staleness.mode === "fail") throw new StaleCacheError(`${what}; lookups fail past --stale-cache-after ${Math.round(this.staleness.afterMs / 1000)}s`);
    const now = Date.now();
    if (now - (this.lastStaleWarning.get(kind) ?? 0) >= 60_000) {
      this.lastStaleWarning.set(kind, now);
      this.opts.logger.warn({ kind, staleSeconds: Math.round(stale / 1000) }, `${what}; answering from it (--stale-cache serve)`);
    }
  }
}

/** What one activated policy set looks up: the provider's store, behind the staleness check. */
class LiveContext implements ClusterContext {
  constructor(
    private readonly store: ObjectStore,
    private readonly provider: LiveContextProvider,
  ) {}

  get(kind: KindKey, name: string, namespace?: string): JsonObject | undefined {
    this.provider.check(kind);
    return this.store.get(kind, name, namespace);
  }

  list(kind: KindKey): readonly JsonObject[] {
    this.provider.check(kind);
    return this.store.list(kind);
  }

  ipQuery(kind: KindKey, index: string, query: IPQuery): readonly JsonObject[] {
    this.provider.check(kind);
    return this.store.ipQuery(kind, index, query);
  }

  indexQuery(kind: KindKey, index: string, keys: readonly string[], limit?: number): readonly JsonObject[] {
    this.provider.check(kind);
    return this.store.indexQuery(kind, index, keys, limit);
  }
}
