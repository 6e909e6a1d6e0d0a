import { isObject, type JsonObject, type KindKey, type LookupTarget } from "../../engine/index.js";
import { describeTarget } from "./api-paths.js";
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

/** The log lines a kind writes: pino's signature. */
export interface KindLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface KindSyncOptions {
  /** The server ends each watch after about this long (randomised ±50%), as client-go does; default 300. */
  watchTimeoutSeconds?: number;
  /** How often a Secret that may be read but not watched is re-read; default 30000 ms. */
  secretPollMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Top-level fields set over the object of a fromSecret target. */
  overrides?: JsonObject;
  /** A reported change of phase (for the provider's readiness log). */
  onPhase?: (phase: KindPhase) => void;
  now?: () => number;
  /** For the watch timeout's and the backoff's jitter. */
  random?: () => number;
}

/** What the adapter is asked to do; `attempt` tags everything it reports back. */
export type KindCommand =
  /** List every page (a fromSecret target: get the one Secret); report `listed` or `listFailed`. */
  | { type: "list"; attempt: number; resourceVersion?: string; resourceVersionMatch?: "NotOlderThan" }
  /** Open a watch from this resourceVersion; report `watchOpened`, each `watchEvent`, then `watchClosed`. */
  | { type: "watch"; attempt: number; resourceVersion: string; timeoutSeconds: number }
  /** Abandon the attempt: close its watch, drop its list. */
  | { type: "cancel"; attempt: number }
  /** Report `timer` for this attempt after delayMs (a retry after backoff, or the next poll). */
  | { type: "timer"; attempt: number; delayMs: number };

/** What happened, as the adapter reports it. */
export type KindEvent =
  | { type: "start" }
  | { type: "stop" }
  | { type: "listed"; attempt: number; items: JsonObject[]; resourceVersion: string; ms: number }
  | { type: "listFailed"; attempt: number; status: number; message: string }
  | { type: "watchOpened"; attempt: number }
  | { type: "watchEvent"; attempt: number; event: string; object: JsonObject }
  /** The watch ended: cleanly (no status, no message), or with an HTTP status and/or a message. */
  | { type: "watchClosed"; attempt: number; status?: number; message?: string }
  | { type: "timer"; attempt: number }
  /** The watchdog's periodic look at a watch that may have gone silent. */
  | { type: "tick" };

/** How often the adapter should send `tick`. */
export const WATCHDOG_INTERVAL_MS = 15_000;

/** Closed watches that are resumed at once, in this window, before the kind backs off instead. */
const RECONNECT_STORM = { count: 10, windowMs: 10_000 };

interface Attempt {
  id: number;
  stage: "list" | "watch";
  /** Watches opened in this attempt (the first follows the list; later ones resume). */
  opens: number;
  /** The newest resourceVersion this attempt has seen (list, events, bookmarks). */
  seen: string;
}

/**
 * One kind's informer, as a state machine: events in (`handle`), commands out, the store written
 * through the sink. It lists, then watches from the list's resourceVersion; a watch the server ends
 * cleanly resumes from the last resourceVersion seen; 410 Gone on a watch re-lists at once; any
 * other failure drops the attempt and lists afresh after a backoff, so the cache is replaced whole
 * by what the API server has now, never patched from a guess. It does no I/O and reads time only
 * through `now`: every phase can be driven by a test.
 */
export class KindSync {
  phase: KindPhase = "starting";
  /** Completed lists (the first makes the kind ready). */
  lists = 0;
  /**
   * The API server once answered that it does not serve the kind (404): that answer, like a first
   * list, makes the kind ready for good. A later re-check that cannot reach the API server makes
   * the kind stale, not unready, the same as a failed watch of a listed kind.
   */
  private provenMissing = false;
  /** Failed lists and watches. */
  errors = 0;
  /**
   * Set when RBAC allows `get` but not `watch` on a fromSecret target's Secret: it is then re-read
   * every this many ms instead of watched (the cache is as fresh as the last read).
   */
  pollMs: number | undefined;
  /** ms the last list took, and how many objects it returned (logged). */
  lastList: { ms: number; objects: number } | undefined;
  lastError: string | undefined;
  /** ms timestamp of the last completed list or watch event. */
  lastSyncAt: number | undefined;
  readonly description: string;
  /**
   * The resourceVersion the cache had reached, for the next list: the first list is served from the
   * API server's watch cache (resourceVersion=0, as client-go's reflector does: no etcd read of
   * every object); a re-list asks for a state not older than what the cache had seen
   * (resourceVersionMatch=NotOlderThan), so that it never goes back in time; when the API server
   * cannot serve that (410, 504), a consistent list from etcd.
   */
  private lastResourceVersion: string | undefined;
  private consistentList = false;
  /** ms timestamp: since when the cache has not been known to be current (while not watching). */
  private unsyncedSince: number;
  private attempt: Attempt | undefined;
  private nextAttempt = 1;
  private lastOpenAt = 0;
  private reopens: number[] = [];
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly random: () => number;
  private lastLogged: { message: string; at: number } | undefined;

  constructor(
    readonly kind: KindKey,
    readonly target: LookupTarget,
    private readonly sink: KindSink,
    private readonly logger: KindLog,
    private readonly opts: KindSyncOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.backoff = new Backoff(opts.backoffInitialMs ?? 250, opts.backoffMaxMs ?? 30_000, this.random);
    this.unsyncedSince = this.now();
    this.description = describeTarget(target);
  }

  /** True once a list completed (or the kind proved missing): lookups can be answered. */
  get synced(): boolean {
    return this.lists > 0 || this.provenMissing;
  }

  /** ms since the cache was last known to be current: 0 while watching (or missing), else since the failure. */
  staleMs(now = this.now()): number {
    return this.phase === "watching" || this.phase === "missing" ? 0 : Math.max(0, now - this.unsyncedSince);
  }

  /** Whether an adapter's work for this attempt still matters (a list between pages asks). */
  isCurrent(attempt: number): boolean {
    return this.attempt?.id === attempt && this.phase !== "stopped";
  }

  handle(event: KindEvent): KindCommand[] {
    switch (event.type) {
      case "start":
        if (this.phase === "stopped") this.phase = "starting";
        return this.begin();
      case "stop":
        return this.stop();
      case "tick":
        return this.watchdog();
      case "timer":
        return this.isCurrent(event.attempt) ? this.begin() : [];
      case "listed":
        return this.isCurrent(event.attempt) ? this.listed(event) : [];
      case "listFailed":
        return this.isCurrent(event.attempt) ? this.fail(event.status, event.message) : [];
      case "watchOpened":
        if (this.isCurrent(event.attempt)) this.opened();
        return [];
      case "watchEvent":
        if (this.isCurrent(event.attempt)) this.watchEvent(event.event, event.object);
        return [];
      case "watchClosed":
        return this.isCurrent(event.attempt) ? this.closed(event.status, event.message) : [];
    }
  }

  /** A new attempt: list (or, for a polled Secret, read it). */
  private begin(): KindCommand[] {
    if (this.phase === "stopped") return [];
    const previous = this.attempt;
    this.attempt = { id: this.nextAttempt++, stage: "list", opens: 0, seen: "" };
    const cancel: KindCommand[] = previous ? [{ type: "cancel", attempt: previous.id }] : [];
    const rv = this.lastResourceVersion;
    const list: KindCommand =
      this.consistentList || rv === "0"
        ? { type: "list", attempt: this.attempt.id }
        : rv === undefined
          ? { type: "list", attempt: this.attempt.id, resourceVersion: "0" }
          : { type: "list", attempt: this.attempt.id, resourceVersion: rv, resourceVersionMatch: "NotOlderThan" };
    return [...cancel, list];
  }

  private stop(): KindCommand[] {
    this.phase = "stopped";
    const a = this.attempt;
    this.attempt = undefined;
    return a ? [{ type: "cancel", attempt: a.id }] : [];
  }

  private listed(event: Extract<KindEvent, { type: "listed" }>): KindCommand[] {
    const attempt = this.attempt as Attempt;
    this.apply(event.items);
    if (event.resourceVersion !== "") this.lastResourceVersion = event.resourceVersion;
    attempt.seen = event.resourceVersion;
    this.consistentList = false;
    this.lastList = { ms: event.ms, objects: event.items.length };
    if (!this.target.fromSecret) {
      this.logger.info({ kind: this.kind, ...this.lastList, resourceVersion: event.resourceVersion }, `${this.description}: listed ${event.items.length} objects in ${event.ms} ms`);
    }
    this.lists++;
    this.lastSyncAt = this.now();
    this.backoff.reset();
    this.setPhase("watching");
    attempt.stage = "watch";
    if (this.pollMs !== undefined) {
      this.lastOpenAt = this.now();
      return [{ type: "timer", attempt: attempt.id, delayMs: this.pollMs }];
    }
    return [this.watchCommand(attempt)];
  }

  private watchCommand(attempt: Attempt): KindCommand {
    const base = (this.opts.watchTimeoutSeconds ?? 300) / 2;
    return { type: "watch", attempt: attempt.id, resourceVersion: attempt.seen, timeoutSeconds: Math.round(base + this.random() * base * 2) };
  }

  private opened(): void {
    const attempt = this.attempt as Attempt;
    this.lastOpenAt = this.now();
    attempt.opens++;
  }

  private watchEvent(type: string, object: JsonObject): void {
    const attempt = this.attempt as Attempt;
    const meta = isObject(object.metadata) ? object.metadata : {};
    if (typeof meta.resourceVersion === "string" && meta.resourceVersion !== "") attempt.seen = meta.resourceVersion;
    if (type === "BOOKMARK") return;
    this.lastSyncAt = this.now();
    if (this.target.fromSecret) {
      const doc = type === "DELETED" ? undefined : this.decode(slim(object));
      const stands = applyOverrides(doc, this.opts.overrides, this.target);
      this.sink.replaceAll(this.kind, stands ? [stands] : []);
      return;
    }
    object.apiVersion ??= this.target.apiVersion;
    object.kind ??= this.target.kind;
    if (type === "DELETED") this.sink.delete(this.kind, object);
    else if (type === "ADDED" || type === "MODIFIED") this.sink.upsert(this.kind, slim(object, this.target));
  }

  /** The watch ended. Cleanly: resume it (unless the server keeps doing that at once). */
  private closed(status: number | undefined, message: string | undefined): KindCommand[] {
    const attempt = this.attempt as Attempt;
    if (status === 410) {
      // The watch's resourceVersion is too old (compacted): list again now, as client-go does.
      if (attempt.seen !== "") this.lastResourceVersion = attempt.seen;
      this.logger.info({ kind: this.kind }, `${this.description}: watch expired (410); re-listing`);
      return this.begin();
    }
    if (status !== undefined || message !== undefined) return this.fail(status ?? 0, message ?? `watch failed (${status})`);
    const now = this.now();
    // A server that keeps closing watches straight away would make resuming a busy loop.
    this.reopens = this.reopens.filter((t) => now - t < RECONNECT_STORM.windowMs);
    this.reopens.push(now);
    if (this.reopens.length >= RECONNECT_STORM.count) {
      this.reopens = [];
      return this.fail(0, `the API server closed ${RECONNECT_STORM.count} watches within ${RECONNECT_STORM.windowMs / 1000} s`);
    }
    return [this.watchCommand(attempt)];
  }

  /** A watch the server should have ended long ago (a peer that vanished) is restarted. */
  private watchdog(): KindCommand[] {
    if (this.phase !== "watching" || !this.attempt) return [];
    const limitMs = (this.opts.watchTimeoutSeconds ?? 300) * 1000 * 1.5 + 30_000;
    const silentMs = this.now() - this.lastOpenAt;
    return silentMs > limitMs ? this.fail(0, `no watch activity for ${Math.round(silentMs / 1000)} s`) : [];
  }

  /** Any failure of the current attempt: drop it, and list afresh after a backoff. */
  private fail(status: number, message: string): KindCommand[] {
    const attempt = this.attempt as Attempt;
    const wasListing = attempt.stage === "list";
    if (!wasListing && attempt.seen !== "") this.lastResourceVersion = attempt.seen;
    this.attempt = undefined;
    const commands: KindCommand[] = [{ type: "cancel", attempt: attempt.id }];
    this.errors++;
    const delay = this.backoff.next();
    // A list "not older than" a resourceVersion this API server cannot serve (compacted: 410; not
    // reached yet, e.g. another replica of an HA API server: 504): read from etcd next time.
    if (wasListing && (status === 410 || status === 504)) this.consistentList = true;
    if (status === 403 && this.target.fromSecret && !wasListing && this.pollMs === undefined) {
      // `get` on the Secret works (the read succeeded), `watch` is not granted: read it periodically.
      this.pollMs = this.opts.secretPollMs ?? 30_000;
      this.lastError = undefined;
      this.log("info", `${this.description}: RBAC allows get but not watch on the Secret; re-reading it every ${Math.round(this.pollMs / 1000)} s (grant watch with resourceNames for immediate updates)`, true);
      return [...commands, ...this.begin()];
    }
    if (status === 404 && !this.target.fromSecret) {
      // The API (group, version or resource) is not served: a CRD that is not installed. There
      // are no such objects, which is the truth lookups get.
      this.sink.replaceAll(this.kind, []);
      const first = this.phase !== "missing";
      this.provenMissing = true;
      this.lastError = `the API server does not serve ${this.description} (404: is its CustomResourceDefinition installed?)`;
      this.setPhase("missing");
      if (first) this.log("warn", `${this.lastError}; policies see no ${this.target.kind} objects; re-checking with backoff`, true);
    } else {
      let text = message;
      if (status === 401) text += " (401: the credentials were rejected)";
      if (status === 403) text += ` (403: RBAC must allow ${this.target.fromSecret ? "get and watch on this Secret" : "get, list and watch"})`;
      this.lastError = text;
      if (this.phase === "watching" || this.phase === "missing") this.unsyncedSince = this.now();
      this.setPhase(this.phase === "starting" ? "starting" : "retrying");
      this.log("warn", `${this.description}: ${wasListing ? "list" : "watch"} failed: ${text}; re-listing in ${delay} ms`);
    }
    // The retry belongs to a fresh attempt id, so that nothing of the failed one can touch it.
    const retry: Attempt = { id: this.nextAttempt++, stage: "list", opens: 0, seen: "" };
    this.attempt = retry;
    return [...commands, { type: "timer", attempt: retry.id, delayMs: delay }];
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

  private setPhase(phase: KindPhase): void {
    if (this.phase === "stopped") return;
    const was = this.phase;
    if (phase === was) return;
    this.phase = phase;
    if (phase === "watching" && (was === "retrying" || was === "missing")) this.log("info", `${this.description}: listed and watching again`, true);
    this.opts.onPhase?.(phase);
  }

  /** The same failure over and over is logged once a minute, not on every retry. */
  private log(level: "info" | "warn" | "error", message: string, always = false): void {
    const now = this.now();
    const key = message.replace(/\d+ ms$/, "");
    if (!always && this.lastLogged?.message === key && now - this.lastLogged.at < 60_000) return;
    this.lastLogged = { message: key, at: now };
    this.logger[level]({ kind: this.kind, phase: this.phase, errors: this.errors }, message);
  }
}
