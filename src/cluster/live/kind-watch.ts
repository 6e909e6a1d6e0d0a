import { ListWatch } from "@kubernetes/client-node/dist/cache.js";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node/dist/types.js";
import { Watch } from "@kubernetes/client-node/dist/watch.js";
import type { Logger } from "pino";
import type { JsonObject, KindKey, TargetSpec } from "../../engine/index.js";
import { getJson, statusOf, type ListResponse } from "./api-client.js";
import { collectionPath, describeTarget } from "./api-paths.js";
import { Backoff } from "./backoff.js";
import { applyOverrides, decodeSecretDocument } from "./from-secret.js";
import { slim } from "./slim.js";

/** Where a kind's objects go: the provider's current ObjectStore, behind one level of indirection. */
export interface KindSink {
  replaceAll(kind: KindKey, objects: readonly JsonObject[]): void;
  upsert(kind: KindKey, object: JsonObject): void;
  delete(kind: KindKey, object: JsonObject): void;
  get(kind: KindKey, name: string, namespace?: string): JsonObject | undefined;
}

/**
 * - starting: the first list has not completed (lookups cannot be answered);
 * - watching: listed, and the watch is open: the cache is current;
 * - retrying: a list or watch failed; the objects from the last list and watch events are kept
 *   until a re-list (after backoff) replaces them;
 * - missing: the API server does not serve the kind (404: its CRD is not installed); there are
 *   no objects of it, which is what lookups see. Re-checked with backoff.
 */
export type KindPhase = "starting" | "watching" | "retrying" | "missing" | "stopped";

export interface KindWatchOptions {
  /** The server ends each watch after about this long (randomised ±50%), as client-go does; default 300. */
  watchTimeoutSeconds?: number;
  /** How often a Secret that may be read but not watched is re-read; default 30000 ms. */
  secretPollMs?: number;
  /** Items per list page; default 5000. */
  pageSize?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Top-level fields set over the object of a fromSecret target. */
  overrides?: JsonObject;
  /** A reported change of phase (for the provider's readiness log). */
  onPhase?: (watch: KindWatch) => void;
  now?: () => number;
}

interface Attempt {
  /** The informer; none when a Secret is polled instead of watched. */
  lw: ListWatch<KubernetesObject> | undefined;
  /** True while the list of this attempt is in flight. */
  listing: boolean;
  /** Where the attempt is: a failure while "list" is a failed list. */
  stage: "list" | "watch";
  /** CONNECT events of this attempt (the first starts it; later ones resume a watch). */
  connects: number;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === "object" && err !== null) {
    const o = err as { message?: unknown };
    if (typeof o.message === "string") return o.message;
  }
  return String(err);
}

/**
 * One kind's informer: a client-node ListWatch (list, then watch from the list's resourceVersion;
 * a watch the server ends cleanly resumes from the last resourceVersion; 410 Gone re-lists) driven
 * so that it survives everything else. ListWatch stops on any other error (a refused connection, a
 * 5xx, a list that failed); this class then starts a fresh ListWatch after a backoff, which lists
 * again: the cache is replaced whole by what the API server has now, never patched from a guess.
 */
export class KindWatch {
  phase: KindPhase = "starting";
  /** Completed lists (the first makes the kind ready). */
  lists = 0;
  /** Failed lists and watches. */
  errors = 0;
  /**
   * Set when RBAC allows `get` but not `watch` on a fromSecret target's Secret: it is then re-read
   * every this many ms instead of watched (the cache is as fresh as the last read).
   */
  pollMs: number | undefined;
  /**
   * The resourceVersion the cache had reached, for the next list: the first list is served from the
   * API server's watch cache (resourceVersion=0, as client-go's reflector does: no etcd read of
   * every object); a re-list asks for a state not older than what the cache had seen
   * (resourceVersionMatch=NotOlderThan), so that it never goes back in time; when the API server
   * cannot serve that (410, 504), a consistent list from etcd.
   */
  private lastResourceVersion: string | undefined;
  private consistentList = false;
  /** ms the last list took, and how many objects it returned (logged). */
  lastList: { ms: number; objects: number } | undefined;
  lastError: string | undefined;
  /** ms timestamp: since when the cache has not been known to be current (undefined while watching). */
  private unsyncedSince: number;
  /** ms timestamp of the last completed list or watch event. */
  lastSyncAt: number | undefined;
  private attempt: Attempt | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastConnectAt = 0;
  private connectBurst: number[] = [];
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private lastLogged: { message: string; at: number } | undefined;
  readonly description: string;

  constructor(
    readonly kind: KindKey,
    readonly target: TargetSpec,
    private readonly kc: KubeConfig,
    private readonly sink: KindSink,
    private readonly logger: Logger,
    private readonly opts: KindWatchOptions = {},
  ) {
    this.backoff = new Backoff(opts.backoffInitialMs ?? 250, opts.backoffMaxMs ?? 30_000);
    this.now = opts.now ?? Date.now;
    this.unsyncedSince = this.now();
    this.description = describeTarget(target);
  }

  /** True once a list completed (or the kind proved missing): lookups can be answered. */
  get synced(): boolean {
    return this.lists > 0 || this.phase === "missing";
  }

  /** ms since the cache was last known to be current: 0 while watching (or missing), else since the failure. */
  staleMs(now = this.now()): number {
    return this.phase === "watching" || this.phase === "missing" ? 0 : Math.max(0, now - this.unsyncedSince);
  }

  start(): void {
    if (this.phase === "stopped") this.phase = "starting";
    this.run();
    const timeoutMs = (this.opts.watchTimeoutSeconds ?? 300) * 1000;
    // A watch the server should have ended long ago (a peer that vanished without closing the
    // connection) is restarted: a silent connection must not pass for an up-to-date cache.
    this.watchdog = setInterval(() => {
      if (this.phase === "watching" && this.now() - this.lastConnectAt > timeoutMs * 1.5 + 30_000) {
        this.fail(this.attempt, new Error(`no watch activity for ${Math.round((this.now() - this.lastConnectAt) / 1000)} s`));
      }
    }, 15_000);
    this.watchdog.unref();
  }

  stop(): void {
    this.phase = "stopped";
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    this.retryTimer = undefined;
    this.watchdog = undefined;
    const a = this.attempt;
    this.attempt = undefined;
    if (a) void a.lw?.stop().catch(() => undefined);
  }

  private watchPath(): string {
    const base = (this.opts.watchTimeoutSeconds ?? 300) / 2;
    const timeout = Math.round(base + Math.random() * base * 2);
    const from = this.target.fromSecret;
    const path = from ? collectionPath({ apiVersion: "v1", resource: "secrets" }, from.namespace) : collectionPath(this.target);
    return `${path}?timeoutSeconds=${timeout}&allowWatchBookmarks=true`;
  }

  private run(): void {
    if (this.phase === "stopped") return;
    if (this.pollMs !== undefined) {
      this.poll();
      return;
    }
    const from = this.target.fromSecret;
    const fieldSelector = from ? `metadata.name=${from.name}` : undefined;
    // A ListWatch's path is used for the watch only; the list is ours (pages, the Secret get).
    const attempt: Attempt = { lw: undefined, listing: false, stage: "list", connects: 0 };
    const lw = new ListWatch<KubernetesObject>(this.watchPath(), new Watch(this.kc), () => this.list(attempt), false, undefined, fieldSelector);
    attempt.lw = lw;
    this.attempt = attempt;
    lw.on("add", (o) => this.onObject(attempt, o));
    lw.on("update", (o) => this.onObject(attempt, o));
    lw.on("delete", (o) => this.onDelete(attempt, o));
    lw.on("error", (err?: unknown) => this.fail(attempt, err));
    lw.on("connect", () => this.onConnect(attempt));
    lw.start().catch((err: unknown) => this.fail(attempt, err));
  }

  /** One read of a fromSecret target's Secret without a watch; the next one in pollMs. */
  private poll(): void {
    const attempt: Attempt = { lw: undefined, listing: true, stage: "list", connects: 1 };
    this.attempt = attempt;
    this.list(attempt).then(
      () => {
        if (!this.current(attempt)) return;
        this.lastConnectAt = this.now();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.run();
        }, this.pollMs);
        this.retryTimer.unref();
      },
      (err: unknown) => this.fail(attempt, err),
    );
  }

  private current(attempt: Attempt | undefined): boolean {
    return attempt !== undefined && attempt === this.attempt && this.phase !== "stopped";
  }

  /** The list of one attempt: every page, then the whole kind replaced in the store at once. */
  private async list(attempt: Attempt): Promise<KubernetesListObject<KubernetesObject>> {
    attempt.listing = true;
    attempt.stage = "list";
    const started = performance.now();
    try {
      const from = this.target.fromSecret;
      let items: JsonObject[];
      let resourceVersion: string;
      if (from) {
        ({ items, resourceVersion } = await this.getSecret());
      } else {
        ({ items, resourceVersion } = await this.listPages(attempt));
      }
      if (!this.current(attempt)) throw new Error("superseded");
      this.apply(items);
      if (resourceVersion !== "") this.lastResourceVersion = resourceVersion;
      this.consistentList = false;
      this.lastList = { ms: Math.round(performance.now() - started), objects: items.length };
      if (!from) this.logger.info({ kind: this.kind, ...this.lastList, resourceVersion }, `${this.description}: listed ${items.length} objects in ${this.lastList.ms} ms`);
      this.lists++;
      this.lastSyncAt = this.now();
      this.backoff.reset();
      this.setPhase("watching");
      attempt.stage = "watch";
      return { items: items as KubernetesObject[], metadata: { resourceVersion } };
    } finally {
      attempt.listing = false;
    }
  }

  private async listPages(attempt: Attempt): Promise<{ items: JsonObject[]; resourceVersion: string }> {
    const base = collectionPath(this.target);
    const limit = this.opts.pageSize ?? 5000;
    const items: JsonObject[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    const listKind = this.target.kind;
    const first =
      this.consistentList || this.lastResourceVersion === "0"
        ? ""
        : this.lastResourceVersion === undefined
          ? "&resourceVersion=0"
          : `&resourceVersion=${encodeURIComponent(this.lastResourceVersion)}&resourceVersionMatch=NotOlderThan`;
    for (let page = 0; page < 100_000; page++) {
      const query = `?limit=${limit}${cont ? `&continue=${encodeURIComponent(cont)}` : first}`;
      const res = await getJson<ListResponse<JsonObject>>(this.kc, base + query);
      if (!this.current(attempt)) throw new Error("superseded");
      for (const item of res.items ?? []) {
        // List items of built-in kinds come without apiVersion and kind.
        if (typeof item.apiVersion !== "string") item.apiVersion = this.target.apiVersion;
        if (typeof item.kind !== "string") item.kind = listKind;
        items.push(slim(item));
      }
      resourceVersion = res.metadata?.resourceVersion ?? resourceVersion;
      cont = res.metadata?.continue;
      if (!cont) break;
    }
    return { items, resourceVersion };
  }

  /** A fromSecret target: `get` on the one Secret (absent: no object), RBAC needs no list. */
  private async getSecret(): Promise<{ items: JsonObject[]; resourceVersion: string }> {
    const from = this.target.fromSecret;
    if (!from) throw new Error("not a fromSecret target");
    const path = `${collectionPath({ apiVersion: "v1", resource: "secrets" }, from.namespace)}/${encodeURIComponent(from.name)}`;
    try {
      const secret = await getJson<JsonObject>(this.kc, path);
      secret.apiVersion ??= "v1";
      secret.kind ??= "Secret";
      const meta = secret.metadata as { resourceVersion?: unknown } | undefined;
      return { items: [slim(secret)], resourceVersion: typeof meta?.resourceVersion === "string" ? meta.resourceVersion : "" };
    } catch (err) {
      // No Secret (a cluster without Deckhouse, or not yet created): no object, and the watch
      // (from "now") reports it when it appears.
      if (statusOf(err) === 404) return { items: [], resourceVersion: "" };
      throw err;
    }
  }

  /** Objects (or for a fromSecret target, Secrets) from a list, into the store. */
  private apply(items: readonly JsonObject[]): void {
    if (!this.target.fromSecret) {
      this.sink.replaceAll(this.kind, items);
      return;
    }
    const doc = items.length > 0 ? this.decode(items[0] as JsonObject) : undefined;
    const object = applyOverrides(doc, this.opts.overrides, this.target);
    this.sink.replaceAll(this.kind, object ? [object] : []);
  }

  private decode(secret: JsonObject): JsonObject | undefined {
    try {
      return decodeSecretDocument(secret, this.target);
    } catch (err) {
      this.log("error", `${this.description}: ${(err as Error).message}; policies see no ${this.target.kind} until it is fixed`);
      return undefined;
    }
  }

  private onObject(attempt: Attempt, o: KubernetesObject): void {
    if (!this.current(attempt) || attempt.listing) return;
    this.lastSyncAt = this.now();
    const object = o as unknown as JsonObject;
    if (this.target.fromSecret) {
      this.apply([slim(object)]);
      return;
    }
    // The list's items come back here as "add" events: they are in the store already.
    const meta = object.metadata as { name?: string; namespace?: string } | undefined;
    if (meta?.name !== undefined && this.sink.get(this.kind, meta.name, meta.namespace ?? "") === object) return;
    object.apiVersion ??= this.target.apiVersion;
    object.kind ??= this.target.kind;
    this.sink.upsert(this.kind, slim(object));
  }

  private onDelete(attempt: Attempt, o: KubernetesObject): void {
    if (!this.current(attempt)) return;
    this.lastSyncAt = this.now();
    if (this.target.fromSecret) {
      const object = applyOverrides(undefined, this.opts.overrides, this.target);
      this.sink.replaceAll(this.kind, object ? [object] : []);
      return;
    }
    this.sink.delete(this.kind, o as unknown as JsonObject);
  }

  private onConnect(attempt: Attempt): void {
    if (!this.current(attempt)) return;
    const now = this.now();
    this.lastConnectAt = now;
    attempt.connects++;
    if (attempt.connects === 1) {
      this.connectBurst = [];
      return;
    }
    // ListWatch resumes a watch the server closed at once, without a pause: a server that keeps
    // closing watches straight away would make that a busy loop. Ten in ten seconds: back off.
    this.connectBurst = this.connectBurst.filter((t) => now - t < 10_000);
    this.connectBurst.push(now);
    if (this.connectBurst.length >= 10) {
      this.connectBurst = [];
      this.fail(attempt, new Error("the API server closed 10 watches within 10 s"));
    }
  }

  /** Any failure of an attempt: drop it, and list afresh after a backoff. */
  private fail(attempt: Attempt | undefined, err: unknown): void {
    if (!this.current(attempt) || !attempt) return;
    const wasListing = attempt.stage === "list";
    const seen = attempt.lw?.latestResourceVersion();
    if (!wasListing && seen) this.lastResourceVersion = seen;
    this.attempt = undefined;
    void attempt.lw?.stop().catch(() => undefined);
    const status = statusOf(err);
    this.errors++;
    let message = errorMessage(err);
    const delay = this.backoff.next();
    // A list "not older than" a resourceVersion this API server cannot serve (compacted: 410; not
    // reached yet, e.g. another replica of an HA API server: 504): read from etcd next time.
    if (wasListing && (status === 410 || status === 504)) this.consistentList = true;
    if (status === 403 && this.target.fromSecret && !wasListing && this.pollMs === undefined) {
      // `get` on the Secret works (the read succeeded), `watch` is not granted: read it periodically.
      this.pollMs = this.opts.secretPollMs ?? 30_000;
      this.lastError = undefined;
      this.log("info", `${this.description}: RBAC allows get but not watch on the Secret; re-reading it every ${Math.round(this.pollMs / 1000)} s (grant watch with resourceNames for immediate updates)`, true);
      this.run();
      return;
    }
    if (status === 404 && !this.target.fromSecret) {
      // The API (group, version or resource) is not served: a CRD that is not installed. There
      // are no such objects, which is the truth lookups get.
      this.sink.replaceAll(this.kind, []);
      const first = this.phase !== "missing";
      this.lastError = `the API server does not serve ${this.description} (404: is its CustomResourceDefinition installed?)`;
      this.setPhase("missing");
      if (first) this.log("warn", `${this.lastError}; policies see no ${this.target.kind} objects; re-checking with backoff`, true);
    } else {
      if (status === 401) message += " (401: the credentials were rejected)";
      if (status === 403) message += ` (403: RBAC must allow ${this.target.fromSecret ? "get and watch on this Secret" : "get, list and watch"})`;
      this.lastError = message;
      if (this.phase === "watching" || this.phase === "missing") this.unsyncedSince = this.now();
      this.setPhase(this.phase === "starting" ? "starting" : "retrying");
      this.log("warn", `${this.description}: ${wasListing ? "list" : "watch"} failed: ${message}; re-listing in ${delay} ms`);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.run();
    }, delay);
    this.retryTimer.unref();
  }

  private setPhase(phase: KindPhase): void {
    if (this.phase === "stopped") return;
    const changed = phase !== this.phase;
    const was = this.phase;
    this.phase = phase;
    if (phase === "watching" && changed && (was === "retrying" || was === "missing")) {
      this.log("info", `${this.description}: listed and watching again`, true);
    }
    if (changed) this.opts.onPhase?.(this);
  }

  /** The same failure over and over is logged once a minute, not on every retry. */
  private log(level: "info" | "warn" | "error", message: string, always = false): void {
    const now = this.now();
    if (!always && this.lastLogged && this.lastLogged.message === message.replace(/\d+ ms$/, "") && now - this.lastLogged.at < 60_000) return;
    this.lastLogged = { message: message.replace(/\d+ ms$/, ""), at: now };
    this.logger[level]({ kind: this.kind, phase: this.phase, errors: this.errors }, message);
  }
}
