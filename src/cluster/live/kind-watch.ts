import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { JsonObject, KindKey, LookupTarget } from "../../engine/index.js";
import { getJson, listItems, statusOf } from "./api-client.js";
import { collectionPath } from "./api-paths.js";
import { KindSync, WATCHDOG_INTERVAL_MS, type KindCommand, type KindLog, type KindSink, type KindSyncOptions } from "./kind-sync.js";
import { slim } from "./slim.js";

export type { KindPhase, KindSink } from "./kind-sync.js";

export interface KindWatchOptions extends Omit<KindSyncOptions, "onPhase"> {
  /**
   * Items per list page; default 500, as client-go's informers: a page of 5,000 VirtualMachines is
   * over 10 MB of JSON, parsed with its managedFields before they are dropped, and that transient
   * sets the process's peak memory.
   */
  pageSize?: number;
  /** A reported change of phase (for the provider's readiness log). */
  onPhase?: (watch: KindWatch) => void;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === "object" && err !== null) {
    const o = err as { message?: unknown };
    if (typeof o.message === "string") return o.message;
  }
  return String(err);
}

/** What one attempt holds open: its watch connection and its timer. */
interface Running {
  watch?: { controller?: AbortController; cancelled: boolean };
  timer?: NodeJS.Timeout;
}

/**
 * One kind's informer on a real API server: runs the commands of its KindSync (which decides
 * everything) with HTTP lists (api-client) and client-node's public Watch, and reports back what
 * happened. Timers and the watchdog are the only other things it owns.
 */
export class KindWatch {
  readonly state: KindSync;
  private readonly running = new Map<number, Running>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    readonly kind: KindKey,
    readonly target: LookupTarget,
    private readonly kc: KubeConfig,
    sink: KindSink,
    logger: KindLog,
    private readonly opts: KindWatchOptions = {},
  ) {
    const onPhase = opts.onPhase;
    this.state = new KindSync(kind, target, sink, logger, { ...opts, onPhase: onPhase && (() => onPhase(this)) });
  }

  get description(): string {
    return this.state.description;
  }

  start(): void {
    this.run(this.state.handle({ type: "start" }));
    this.watchdog ??= setInterval(() => this.run(this.state.handle({ type: "tick" })), WATCHDOG_INTERVAL_MS);
    this.watchdog.unref();
  }

  stop(): void {
    this.run(this.state.handle({ type: "stop" }));
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    for (const attempt of [...this.running.keys()]) this.cancel(attempt);
  }

  private run(commands: readonly KindCommand[]): void {
    for (const c of commands) {
      if (c.type === "list") void this.list(c);
      else if (c.type === "watch") void this.watch(c);
      else if (c.type === "cancel") this.cancel(c.attempt);
      else this.timer(c.attempt, c.delayMs);
    }
  }

  private slot(attempt: number): Running {
    let r = this.running.get(attempt);
    if (!r) this.running.set(attempt, (r = {}));
    return r;
  }

  private cancel(attempt: number): void {
    const r = this.running.get(attempt);
    if (!r) return;
    this.running.delete(attempt);
    if (r.timer) clearTimeout(r.timer);
    if (r.watch) {
      r.watch.cancelled = true;
      r.watch.controller?.abort();
    }
  }

  private timer(attempt: number, delayMs: number): void {
    const r = this.slot(attempt);
    if (r.timer) clearTimeout(r.timer);
    r.timer = setTimeout(() => {
      r.timer = undefined;
      this.run(this.state.handle({ type: "timer", attempt }));
    }, delayMs);
    r.timer.unref();
  }

  private async list(c: Extract<KindCommand, { type: "list" }>): Promise<void> {
    const started = performance.now();
    let result: { items: JsonObject[]; resourceVersion: string };
    try {
      result = this.target.fromSecret ? await this.getSecret() : await this.listPages(c);
    } catch (err) {
      this.run(this.state.handle({ type: "listFailed", attempt: c.attempt, status: statusOf(err), message: errorMessage(err) }));
      return;
    }
    this.run(this.state.handle({ type: "listed", attempt: c.attempt, ...result, ms: Math.round(performance.now() - started) }));
  }

  private async listPages(c: Extract<KindCommand, { type: "list" }>): Promise<{ items: JsonObject[]; resourceVersion: string }> {
    const only = this.target.only;
    // The one object the policies read: selected by name, which is what RBAC's resourceNames allow.
    const base = collectionPath(this.target, only?.namespace) + (only ? `?fieldSelector=${encodeURIComponent(`metadata.name=${only.name}`)}&` : "?");
    const limit = this.opts.pageSize ?? 500;
    const items: JsonObject[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    let first = c.resourceVersion === undefined ? "" : `&resourceVersion=${encodeURIComponent(c.resourceVersion)}`;
    if (c.resourceVersionMatch) first += `&resourceVersionMatch=${c.resourceVersionMatch}`;
    for (let page = 0; page < 100_000; page++) {
      const query = `limit=${limit}${cont ? `&continue=${encodeURIComponent(cont)}` : first}`;
      // Each item is slimmed as it arrives, so the list's transient is one item, not the response.
      const metadata = await listItems(this.kc, base + query, (item) => {
        // List items of built-in kinds come without apiVersion and kind.
        if (typeof item.apiVersion !== "string") item.apiVersion = this.target.apiVersion;
        if (typeof item.kind !== "string") item.kind = this.target.kind;
        items.push(slim(item, this.target));
      });
      if (!this.state.isCurrent(c.attempt)) throw new Error("superseded");
      resourceVersion = metadata?.resourceVersion ?? resourceVersion;
      cont = metadata?.continue;
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

  private async watch(c: Extract<KindCommand, { type: "watch" }>): Promise<void> {
    const r = this.slot(c.attempt);
    const handle: NonNullable<Running["watch"]> = { cancelled: false };
    r.watch = handle;
    const from = this.target.fromSecret;
    const only = this.target.only;
    const path = from ? collectionPath({ apiVersion: "v1", resource: "secrets" }, from.namespace) : collectionPath(this.target, only?.namespace);
    const query: Record<string, string | number | boolean> = { timeoutSeconds: c.timeoutSeconds, allowWatchBookmarks: true };
    if (c.resourceVersion !== "") query.resourceVersion = c.resourceVersion;
    if (from ?? only) query.fieldSelector = `metadata.name=${(from ?? only)?.name}`;
    let ended = false;
    const report = (status: number | undefined, message: string | undefined): void => {
      if (ended || handle.cancelled) return;
      ended = true;
      this.run(this.state.handle({ type: "watchClosed", attempt: c.attempt, status, message }));
    };
    try {
      handle.controller = await new Watch(this.kc).watch(
        path,
        query,
        (type: string, object: unknown) => {
          if (ended || handle.cancelled) return;
          const o = (object ?? {}) as JsonObject;
          if (type === "ERROR") {
            // A Status in the stream (410 Expired above all): the watch is over.
            report(typeof o.code === "number" ? o.code : 0, typeof o.message === "string" ? o.message : "watch error");
            handle.controller?.abort();
            return;
          }
          this.run(this.state.handle({ type: "watchEvent", attempt: c.attempt, event: type, object: o }));
        },
        (err: unknown) => (err ? report(statusOf(err), errorMessage(err)) : report(undefined, undefined)),
      );
      if (handle.cancelled) handle.controller.abort();
      else if (!ended) this.run(this.state.handle({ type: "watchOpened", attempt: c.attempt }));
    } catch (err) {
      report(statusOf(err), errorMessage(err));
    }
  }
}
