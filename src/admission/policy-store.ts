import { bindParameters, hashPolicySources, type BoundParameters, type ClusterContext, type JsonValue, type PolicySet, type PolicySource } from "../engine/index.js";
import { loadPolicySources, readPolicySources } from "../policy-files/policy-dir.js";
import type { ContextProvider } from "../cluster/context-provider.js";
import type { Logger } from "./logger.js";
import type { ServerMetrics } from "./metrics.js";
import { DirectoryWatcher } from "./watch.js";

/** Everything one request needs, swapped as one object: a request sees one generation from start to end. */
export interface ServingSet {
  readonly set: PolicySet;
  readonly params: BoundParameters;
  readonly context: ClusterContext;
  /** 1 for the set loaded at start, +1 per successful reload. */
  readonly generation: number;
  /** PolicySet.hash: what metrics and logs show. */
  readonly hash: string;
  readonly loadedAt: Date;
  /** Digest of the source texts, to tell a real change from a touched file. */
  readonly digest: string;
}

export type ReloadOutcome = { result: "unchanged" } | { result: "loaded"; serving: ServingSet } | { result: "rejected"; error: string };

export interface PolicyStoreOptions {
  dir: string;
  params: Readonly<Record<string, JsonValue>>;
  context: ContextProvider;
  logger: Logger;
  metrics: ServerMetrics;
}

/**
 * The policy set being served, and its hot reload. A change on disk is read whole, compiled, bound
 * to the parameters and given a context; only then does it replace the current set, in one
 * assignment. Any failure on the way rejects the change whole: the last good set keeps serving.
 */
export class PolicyStore {
  private serving: ServingSet;
  /** Digest (or error) of the last rejected attempt, so a poll does not log the same rejection again. */
  private lastRejected: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: DirectoryWatcher | undefined;

  private constructor(
    private readonly opts: PolicyStoreOptions,
    first: ServingSet,
  ) {
    this.serving = first;
  }

  /** Loads the directory once; throws (PolicyLoadError, ParameterError, …) when the set is not usable. */
  static async open(opts: PolicyStoreOptions): Promise<PolicyStore> {
    const sources = readPolicySources(opts.dir);
    const serving = await PolicyStore.build(opts, sources, 1);
    const store = new PolicyStore(opts, serving);
    opts.metrics.policyReloads.inc();
    opts.metrics.policyLastReloadSuccess.set(1);
    opts.metrics.setPolicySet(1, serving.hash, serving.set.policies.length);
    return store;
  }

  private static async build(opts: PolicyStoreOptions, sources: PolicySource[], generation: number): Promise<ServingSet> {
    // The code generated for this set before (by the build for the shipped set, or by an earlier
    // start) is used as stored: a known set starts without parsing, checking or compiling again.
    const set = loadPolicySources(sources);
    const facts = (await opts.context.clusterFacts?.()) ?? {};
    // Without `assumed`: a webhook answer never states assumptions, and tracking which defaulted
    // parameters a run reads costs a Proxy per policy run on the /validate path.
    const params = { values: bindParameters(set, opts.params, facts).values };
    const context = await opts.context.activate(set);
    return { set, params, context, generation, hash: set.hash, loadedAt: new Date(), digest: hashPolicySources(sources) };
  }

  /** The set to evaluate a request against. */
  get current(): ServingSet {
    return this.serving;
  }

  /** Re-reads the directory and swaps in a changed, valid set. Calls are serialised. */
  reload(): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    const { logger, metrics } = this.opts;
    let sources: PolicySource[];
    try {
      sources = readPolicySources(this.opts.dir);
    } catch (err) {
      return this.reject(`read:${(err as Error).message}`, err as Error);
    }
    const digest = hashPolicySources(sources);
    if (digest === this.serving.digest) {
      if (this.lastRejected !== undefined) {
        // Someone reverted to what is serving: the rejection is over.
        this.lastRejected = undefined;
        metrics.policyLastReloadSuccess.set(1);
        logger.info({ generation: this.serving.generation, hash: this.serving.hash }, "policy directory is back to the set being served");
      }
      return { result: "unchanged" };
    }
    if (digest === this.lastRejected) return { result: "unchanged" };
    let serving: ServingSet;
    try {
      serving = await PolicyStore.build(this.opts, sources, this.serving.generation + 1);
    } catch (err) {
      return this.reject(digest, err as Error);
    }
    const previous = this.serving;
    this.serving = serving;
    this.lastRejected = undefined;
    metrics.policyReloads.inc();
    metrics.policyLastReloadSuccess.set(1);
    metrics.setPolicySet(serving.generation, serving.hash, serving.set.policies.length);
    logger.info(
      {
        generation: serving.generation,
        hash: serving.hash,
        previousHash: previous.hash,
        policies: serving.set.policies.map((p) => p.name),
      },
      "policy set reloaded",
    );
    return { result: "loaded", serving };
  }

  private reject(key: string, err: Error): ReloadOutcome {
    if (key !== this.lastRejected) {
      this.lastRejected = key;
      this.opts.metrics.policyReloadErrors.inc();
      this.opts.metrics.policyLastReloadSuccess.set(0);
      this.opts.logger.error(
        { err: err.message, dir: this.opts.dir, servingGeneration: this.serving.generation, servingHash: this.serving.hash },
        "policy reload rejected; the last good set keeps serving",
      );
    }
    return { result: "rejected", error: err.message };
  }

  /** Watches the directory (and polls every pollMs, 0 for never) and reloads on change. */
  watch(debounceMs: number, pollMs: number): void {
    this.watcher?.close();
    this.watcher = new DirectoryWatcher({
      dirs: [this.opts.dir],
      debounceMs,
      pollMs,
      onChange: () => void this.reload(),
      onError: (err, dir) => this.opts.logger.warn({ err: err.message, dir }, "policy directory watch failed; polling continues"),
    });
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }
}
