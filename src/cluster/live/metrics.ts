import { Counter, Gauge, type Registry } from "prom-client";
import type { KindWatch } from "./kind-watch.js";

/**
 * The live cache's metrics, computed at scrape time from the watches' state (nothing is updated on
 * the hot path). Created unregistered: the provider exists before the server's registry, which
 * registers them when the server starts.
 */
export class CacheMetrics {
  private readonly all: (Gauge | Counter)[];

  constructor(watches: () => Iterable<KindWatch>, size: (w: KindWatch) => number) {
    const each = (fn: (w: KindWatch) => number) =>
      function (this: Gauge<"kind">) {
        this.reset();
        for (const w of watches()) this.set({ kind: w.target.kind }, fn(w));
      };
    const total = (fn: (w: KindWatch) => number) =>
      function (this: Counter<"kind">) {
        this.reset();
        for (const w of watches()) this.inc({ kind: w.target.kind }, fn(w));
      };
    this.all = [
      new Gauge({
        name: "virtguard_cluster_cache_objects",
        help: "Objects in the live cache, by kind (for a kind read from a Secret: its document).",
        labelNames: ["kind"],
        registers: [],
        collect: each(size),
      }),
      new Gauge({
        name: "virtguard_cluster_cache_seconds_since_sync",
        help:
          "Seconds since the kind's cache was last known to be in sync with the API server: 0 while its watch is open after a " +
          "successful list (or while the API server does not serve the kind), else the time since the watch or list failed " +
          "(since start before the first list).",
        labelNames: ["kind"],
        registers: [],
        collect: each((w) => w.state.staleMs() / 1000),
      }),
      new Gauge({
        name: "virtguard_cluster_cache_synced",
        help: "1 when the kind's cache is listed and watched, 0 while starting or retrying after a failure.",
        labelNames: ["kind"],
        registers: [],
        collect: each((w) => (w.state.phase === "watching" || w.state.phase === "missing" ? 1 : 0)),
      }),
      new Gauge({
        name: "virtguard_cluster_cache_api_missing",
        help: "1 when the API server does not serve the kind (404 on list: its CustomResourceDefinition is not installed); lookups then see no objects.",
        labelNames: ["kind"],
        registers: [],
        collect: each((w) => (w.state.phase === "missing" ? 1 : 0)),
      }),
      new Counter({
        name: "virtguard_cluster_cache_lists_total",
        help: "Completed lists of the kind (the first one, and every re-list after a watch failure or 410 Gone).",
        labelNames: ["kind"],
        registers: [],
        collect: total((w) => w.state.lists),
      }),
      new Counter({
        name: "virtguard_cluster_cache_errors_total",
        help: "Failed lists and watches of the kind (each one is followed by a re-list after backoff).",
        labelNames: ["kind"],
        registers: [],
        collect: total((w) => w.state.errors),
      }),
    ];
  }

  register(registry: Registry): void {
    for (const m of this.all) {
      const name = (m as unknown as { name: string }).name;
      if (!registry.getSingleMetric(name)) registry.registerMetric(m);
    }
  }
}
