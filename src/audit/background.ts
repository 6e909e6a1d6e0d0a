import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import { requestFor } from "../apiserver/request.js";
import { assumptionNote } from "../check/run.js";
import { statusOf, type ObjectResult, type ReportFinding } from "../check/report.js";
import { identityOf } from "../check/plan.js";
import { evaluate, matchingPolicies, requestBudget, type BoundParameters, type ClusterContext, type JsonObject, type PolicySet } from "../engine/index.js";
import { SYSTEM_CLOCK, type Clock } from "../cluster/live/lease-election.js";
import { auditedKinds } from "./live.js";
import { policyReports, type PolicyReport } from "./policy-report.js";
import type { SyncOutcome } from "./report-sync.js";

/** What serve holds for admission, read by the audit: the set, its parameters and the informer caches. */
export interface AuditSource {
  readonly set: PolicySet;
  readonly params: BoundParameters;
  readonly context: ClusterContext;
}

export interface BackgroundAuditOptions {
  /** The set serving admission now (it changes on policy reloads). */
  serving: () => AuditSource;
  /** Whether the caches are synced: an audit of half-listed caches would report half the cluster. */
  ready: () => boolean;
  /** Whether this replica holds the audit lease. */
  leading: () => boolean;
  intervalMs: number;
  evalTimeoutMs: number;
  /** Where the reports go (the cluster, through ReportWriter). */
  reports: { sync(reports: readonly PolicyReport[]): Promise<SyncOutcome>; forget(): void };
  registry: Registry;
  logger: Logger;
  clock?: Clock;
  /** Evaluation runs in slices of this many ms, yielding to admission requests in between; default 20. */
  sliceMs?: number;
}

/** How soon a failed audit is tried again (at most the interval). */
const RETRY_MS = 30_000;

export interface AuditRun {
  objects: number;
  findings: number;
  reports: SyncOutcome | undefined;
  tookMs: number;
}

/**
 * One object from the caches, judged as `virtguard audit` judges it: an UPDATE of itself against
 * the set serving admission, with the caches as the cluster. Undefined when no policy matches.
 */
export function judgeCached(object: JsonObject, source: AuditSource, resources: ReadonlyMap<string, string>, evalTimeoutMs: number): ObjectResult | undefined {
  const { set, params, context } = source;
  const request = requestFor({ uid: "virtguard-audit", operation: "UPDATE", object, oldObject: object }, set, resources);
  if (matchingPolicies(set, request).length === 0) return undefined;
  const verdict = evaluate(set, request, { context, params, budget: requestBudget(evalTimeoutMs) });
  const findings: ReportFinding[] = [...verdict.denials, ...verdict.warnings, ...verdict.audits].map((f) => {
    const finding: ReportFinding = { action: f.action, policy: f.policy, message: f.message + assumptionNote(f, params), file: "cluster", line: 0 };
    if (f.reason) finding.reason = f.reason;
    return finding;
  });
  const policies = [...verdict.matched];
  for (const f of findings) if (!policies.includes(f.policy)) policies.push(f.policy);
  const id = identityOf(object);
  const result: ObjectResult = { file: "cluster", line: 0, apiVersion: id.apiVersion, kind: id.kind, name: id.name, operation: "UPDATE", status: statusOf(findings, policies.length > 0), schema: "unknown", policies, findings };
  if (id.namespace) result.namespace = id.namespace;
  return result;
}

/**
 * `serve --audit-interval`: every interval, the replica holding the audit lease judges every object
 * of the kinds the policies match that its informer caches hold (no request to the API server for
 * them), then writes PolicyReports (see ReportWriter: only what changed) and sets
 * virtguard_policy_violations. Evaluation yields to the event loop every slice, so admission
 * requests keep their latency while 50,000 objects are audited.
 */
export class BackgroundAudit {
  private readonly violations: Gauge<"policy" | "namespace">;
  private readonly lastRun: Gauge;
  private readonly duration: Gauge;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private lastRunAt: number | undefined;
  private wasLeading = false;
  private readonly clock: Clock;

  constructor(private readonly opts: BackgroundAuditOptions) {
    this.clock = opts.clock ?? SYSTEM_CLOCK;
    const registers = [opts.registry];
    this.violations = new Gauge({
      name: "virtguard_policy_violations",
      help: "Findings (Deny, Warn or Audit) of the last background audit, by policy and namespace (empty for cluster-scoped objects); only the replica holding the audit lease has series",
      labelNames: ["policy", "namespace"],
      registers,
    });
    this.lastRun = new Gauge({ name: "virtguard_audit_last_run_timestamp_seconds", help: "When the last background audit finished (0: none on this replica)", registers });
    this.duration = new Gauge({ name: "virtguard_audit_duration_seconds", help: "How long the last background audit took, evaluation and report writes", registers });
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    const tick = Math.min(this.opts.intervalMs, 1000);
    while (!this.abort.signal.aborted) {
      const leading = this.opts.leading();
      if (leading !== this.wasLeading) {
        this.wasLeading = leading;
        // A new leader audits at once and lists the reports its predecessor left; a follower has no series.
        this.lastRunAt = undefined;
        this.opts.reports.forget();
        if (!leading) this.violations.reset();
      }
      const due = this.lastRunAt === undefined || this.clock.now() - this.lastRunAt >= this.opts.intervalMs;
      if (leading && due && this.opts.ready()) {
        this.lastRunAt = this.clock.now();
        try {
          await this.runOnce();
        } catch (err) {
          // A failure (the API server answering 429 while a CRD's cache initialises, a stale cache)
          // is retried soon, not a whole interval later.
          const retryMs = Math.min(this.opts.intervalMs, RETRY_MS);
          this.lastRunAt = this.clock.now() - this.opts.intervalMs + retryMs;
          if (!this.abort.signal.aborted) this.opts.logger.error({ err: (err as Error).message, retryInMs: retryMs }, "background audit failed; retrying");
        }
      }
      await this.clock.sleep(tick, this.abort.signal);
    }
  }

  /** One audit of the caches, then the reports and the gauge. */
  async runOnce(): Promise<AuditRun> {
    const started = this.clock.now();
    const source = this.opts.serving();
    const { kinds } = auditedKinds(source.set);
    const resources = new Map(kinds.map(([k, t]) => [k, t.resource]));
    const results: ObjectResult[] = [];
    /** Policies passed by objects without findings, by namespace: kept as counts, not 50,000 results. */
    const passes = new Map<string, number>();
    let objects = 0;
    const sliceMs = this.opts.sliceMs ?? 20;
    let sliceStart = performance.now();
    for (const [kind] of kinds) {
      // list() hands out the cache's array of the moment; events after it make a new one.
      for (const object of source.context.list(kind)) {
        if (this.abort.signal.aborted) throw new Error("stopped");
        objects++;
        const result = judgeCached(object, source, resources, this.opts.evalTimeoutMs);
        if (result && result.findings.length > 0) results.push(result);
        else if (result) passes.set(result.namespace ?? "", (passes.get(result.namespace ?? "") ?? 0) + result.policies.length);
        if (performance.now() - sliceStart >= sliceMs) {
          await new Promise((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
    }
    const reports = policyReports(results, new Date(this.clock.now()));
    for (const r of reports) r.summary.pass += passes.get(r.metadata.namespace ?? "") ?? 0;
    this.setViolations(results);
    // Leadership may have passed on during the evaluation: then the new leader writes.
    const written = this.opts.leading() ? await this.opts.reports.sync(reports) : undefined;
    const tookMs = this.clock.now() - started;
    const findings = results.reduce((n, r) => n + r.findings.length, 0);
    this.lastRun.set(this.clock.now() / 1000);
    this.duration.set(tookMs / 1000);
    this.opts.logger.info({ objects, findings, objectsWithFindings: results.length, reports: written, tookMs }, "background audit done");
    return { objects, findings, reports: written, tookMs };
  }

  private setViolations(results: readonly ObjectResult[]): void {
    const counts = new Map<string, { policy: string; namespace: string; n: number }>();
    for (const r of results) {
      for (const f of r.findings) {
        const key = `${f.policy}\0${r.namespace ?? ""}`;
        const c = counts.get(key) ?? { policy: f.policy, namespace: r.namespace ?? "", n: 0 };
        c.n++;
        counts.set(key, c);
      }
    }
    this.violations.reset();
    for (const c of counts.values()) this.violations.set({ policy: c.policy, namespace: c.namespace }, c.n);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
