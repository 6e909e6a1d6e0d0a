import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ApiError, getJson, sendJson } from "./api-client.js";

/** What the election reads of a coordination.k8s.io/v1 Lease. */
export interface LeaseRecord {
  holder: string;
  durationSeconds: number;
  transitions: number;
  acquireTime?: string;
  /** The API server's version of the object: updates carry it, so two writers cannot both win. */
  resourceVersion?: string;
}

export interface ElectionTiming {
  /** How long a holder's lease lasts after its last renewal, as others observe it. */
  leaseMs: number;
  /** A leader that could not renew for this long stops acting as leader (shorter than leaseMs). */
  renewDeadlineMs: number;
  /** How often every candidate tries to acquire or renew. */
  retryMs: number;
}

export const DEFAULT_TIMING: ElectionTiming = { leaseMs: 15_000, renewDeadlineMs: 10_000, retryMs: 2_000 };

/** The clock the election runs on; tests pass their own. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    }),
};

/**
 * What one candidate remembers between attempts: the last record it saw and when (by its own
 * clock) it first saw it. As in client-go, a lease expires by the observer's clock, from when the
 * observer last saw it change, never by the timestamps in it: the replicas' clocks may disagree.
 */
export interface Observation {
  record: LeaseRecord;
  since: number;
}

export type ElectionStep =
  | { action: "create"; record: LeaseRecord }
  | { action: "update"; record: LeaseRecord; takeover: boolean }
  | { action: "wait"; holder: string; expiresAt: number };

/** Remembers a freshly read record: a record that changed (another renewal) restarts its clock. */
export function observe(previous: Observation | undefined, record: LeaseRecord | undefined, now: number): Observation | undefined {
  if (!record) return undefined;
  if (previous && previous.record.resourceVersion === record.resourceVersion && previous.record.holder === record.holder) return previous;
  return { record, since: now };
}

/**
 * The next write of a candidate `me`, given the lease as last read (none: it does not exist yet):
 * create it; renew it (already ours); take it over (nobody holds it, or its holder let it expire);
 * or wait until it would expire.
 */
export function electionStep(observed: Observation | undefined, me: string, now: number, timing: ElectionTiming, nowText: string): ElectionStep {
  const durationSeconds = Math.ceil(timing.leaseMs / 1000);
  if (!observed) return { action: "create", record: { holder: me, durationSeconds, transitions: 0, acquireTime: nowText } };
  const { record, since } = observed;
  if (record.holder === me) return { action: "update", takeover: false, record: { ...record, durationSeconds } };
  const expiresAt = since + record.durationSeconds * 1000;
  if (record.holder !== "" && now < expiresAt) return { action: "wait", holder: record.holder, expiresAt };
  return { action: "update", takeover: true, record: { ...record, holder: me, durationSeconds, transitions: record.transitions + 1, acquireTime: nowText } };
}

/** Whether a leader whose last successful renewal was at `renewedAt` may still act as leader. */
export function stillLeading(renewedAt: number | undefined, now: number, timing: ElectionTiming): boolean {
  return renewedAt !== undefined && now - renewedAt < timing.renewDeadlineMs;
}

/** metav1.MicroTime as the API server writes it: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; acquireTime?: string };
}

function recordOf(lease: LeaseObject): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holder: spec.holderIdentity ?? "",
    durationSeconds: spec.leaseDurationSeconds ?? 0,
    transitions: spec.leaseTransitions ?? 0,
    acquireTime: spec.acquireTime,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}

export interface LeaderElectionOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  logger: Logger;
  timing?: ElectionTiming;
  clock?: Clock;
  /** Called when this candidate becomes leader, and when it stops being one. */
  onChange?: (leading: boolean) => void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: every
 * candidate reads the Lease every retry period; the holder renews it; others take it over only once
 * it has not changed for its whole duration; every write carries the resourceVersion read, so of
 * two candidates racing for an expired lease the API server lets exactly one win (409 for the
 * other). A leader that cannot renew within the renew deadline stops leading before its lease
 * can expire for the others. stop() releases the lease (holder emptied) so a successor need not wait.
 */
export class LeaderElection {
  private observed: Observation | undefined;
  private renewedAt: number | undefined;
  private leadingNow = false;
  /** The last failure logged, so that a lasting one (RBAC) is logged once, not every retry. */
  private lastFailure: string | undefined;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly timing: ElectionTiming;
  private readonly clock: Clock;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.timing = opts.timing ?? DEFAULT_TIMING;
    this.clock = opts.clock ?? SYSTEM_CLOCK;
  }

  get identity(): string {
    return this.opts.identity;
  }

  /** Whether this candidate holds the lease now (renewed within the renew deadline). */
  leading(): boolean {
    return this.leadingNow && stillLeading(this.renewedAt, this.clock.now(), this.timing);
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await this.attempt();
      this.setLeading(stillLeading(this.renewedAt, this.clock.now(), this.timing));
      await this.clock.sleep(this.timing.retryMs, this.abort.signal);
    }
  }

  /** One read and, when the step says so, one write. Never throws: a failure is a missed renewal. */
  async attempt(): Promise<void> {
    const { kc, namespace, name, identity, logger } = this.opts;
    try {
      let current: LeaseRecord | undefined;
      try {
        current = recordOf(await getJson<LeaseObject>(kc, leasePath(namespace, name), { timeoutMs: this.timing.renewDeadlineMs, signal: this.abort.signal }));
      } catch (err) {
        if (!(err instanceof ApiError && err.statusCode === 404)) throw err;
      }
      const now = this.clock.now();
      this.observed = observe(this.observed, current, now);
      const step = electionStep(this.observed, identity, now, this.timing, microTime(now));
      if (step.action === "wait") return;
      const lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace, ...(step.record.resourceVersion ? { resourceVersion: step.record.resourceVersion } : {}) },
        spec: {
          holderIdentity: step.record.holder,
          leaseDurationSeconds: step.record.durationSeconds,
          leaseTransitions: step.record.transitions,
          ...(step.record.acquireTime ? { acquireTime: step.record.acquireTime } : {}),
          renewTime: microTime(now),
        },
      };
      const written =
        step.action === "create"
          ? await sendJson<LeaseObject>(kc, "POST", leasePath(namespace), lease, { timeoutMs: this.timing.renewDeadlineMs, signal: this.abort.signal })
          : await sendJson<LeaseObject>(kc, "PUT", leasePath(namespace, name), lease, { timeoutMs: this.timing.renewDeadlineMs, signal: this.abort.signal });
      this.observed = { record: recordOf(written), since: now };
      this.renewedAt = now;
      this.lastFailure = undefined;
      if (step.action === "update" && step.takeover) logger.info({ lease: `${namespace}/${name}`, previous: current?.holder || "(none)" }, "took over the audit lease");
    } catch (err) {
      if (this.abort.signal.aborted) return;
      // 409: another candidate wrote first; it leads, this one reads again next time.
      const conflict = err instanceof ApiError && (err.statusCode === 409 || err.statusCode === 422);
      const message = (err as Error).message;
      if (!conflict && message !== this.lastFailure) logger.warn({ lease: `${namespace}/${name}`, err: message }, "audit lease: could not read or write (retrying; logged again when the error changes)");
      if (!conflict) this.lastFailure = message;
    }
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leadingNow) return;
    this.leadingNow = leading;
    this.opts.logger.info({ lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity }, leading ? "leading: this replica writes the audit reports" : "no longer leading the audit");
    this.opts.onChange?.(leading);
  }

  /** Stops campaigning; a leader releases the lease (holder emptied) so that a successor takes over at once. */
  async stop(): Promise<void> {
    const wasLeading = this.leading();
    this.abort.abort();
    await this.loop;
    this.setLeading(false);
    const observed = this.observed?.record;
    if (!wasLeading || !observed) return;
    const { kc, namespace, name, logger } = this.opts;
    const now = this.clock.now();
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, namespace, resourceVersion: observed.resourceVersion },
      spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: observed.transitions, renewTime: microTime(now), ...(observed.acquireTime ? { acquireTime: observed.acquireTime } : {}) },
    };
    await sendJson(kc, "PUT", leasePath(namespace, name), lease, { timeoutMs: 5000 }).catch((err: unknown) =>
      logger.warn({ lease: `${namespace}/${name}`, err: (err as Error).message }, "could not release the audit lease; it expires by itself"),
    );
  }
}
