import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { DecisionTally, type Decision } from "./decision-tally.js";
import { FastHistogram } from "./fast-histogram.js";

export type { Decision };

/**
 * Histogram buckets in seconds: 0.1 ms, 0.25 ms, 0.5 ms, 1 ms, … up to the evaluation timeout
 * (which is always the last bucket, so a request that ran into the deadline is visible as such).
 */
export function latencyBuckets(timeoutSeconds: number): number[] {
  const out: number[] = [];
  for (let decade = 1e-4; decade < timeoutSeconds; decade *= 10) {
    for (const step of [1, 2.5, 5]) {
      const b = Number((decade * step).toPrecision(3));
      if (b < timeoutSeconds) out.push(b);
    }
  }
  out.push(timeoutSeconds);
  return out;
}

/**
 * Label values that come from requests (the kind) are capped: anyone who can reach the port can
 * send any kind, and every distinct value is a new time series. Past the cap, values read "other".
 */
class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}
  value(v: string): string {
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return "other";
    this.seen.add(v);
    return v;
  }
}

/** Every metric the server exports, in its own registry (several servers can share a process in tests). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requestDuration: FastHistogram<"decision" | "kind" | "operation">;
  readonly evaluationDuration: FastHistogram<"kind" | "operation">;
  readonly decisions: Counter<"decision" | "kind" | "operation" | "policy">;
  readonly badRequests: Counter<"code">;
  readonly droppedConnections: Counter;
  readonly inFlight: Gauge;
  private readonly registers = [this.registry];
  // The policy set's metrics: set by the server on each (re)load.
  readonly policyReloads = new Counter({ name: "virtguard_policy_reloads_total", help: "Policy sets loaded successfully (including the first).", registers: this.registers });
  readonly policyReloadErrors = new Counter({
    name: "virtguard_policy_reload_errors_total",
    help: "Policy directory changes rejected as a whole (the last good set kept serving).",
    registers: this.registers,
  });
  readonly policyGeneration = new Gauge({ name: "virtguard_policy_set_generation", help: "Generation of the policy set being served: 1 at start, +1 per successful reload.", registers: this.registers });
  readonly policySetInfo = new Gauge({ name: "virtguard_policy_set_info", help: "1 for the hash of the policy set being served.", labelNames: ["hash"], registers: this.registers });
  readonly policyCount = new Gauge({ name: "virtguard_policies_loaded", help: "Policies in the set being served.", registers: this.registers });
  readonly policyLastReloadSuccess = new Gauge({
    name: "virtguard_policy_last_reload_success",
    help: "1 when the last attempt to load the policy directory succeeded, 0 when it was rejected.",
    registers: this.registers,
  });
  // The serving certificate's metrics: set by the server on each (re)load.
  readonly certReloads = new Counter({ name: "virtguard_tls_certificate_reloads_total", help: "Serving certificates loaded (including the first).", registers: this.registers });
  readonly certReloadErrors = new Counter({
    name: "virtguard_tls_certificate_reload_errors_total",
    help: "Changed certificate/key files rejected (unreadable or not a matching pair); the previous certificate kept serving.",
    registers: this.registers,
  });
  readonly certNotAfter = new Gauge({ name: "virtguard_tls_certificate_not_after_seconds", help: "Expiry of the serving certificate, Unix time.", registers: this.registers });
  readonly ready: Gauge;
  /** POST /validate requests being answered (virtguard_admission_requests_in_flight). */
  requestsInFlight = 0;
  /** What virtguard_ready reports at scrape time; the server sets it. */
  readyProbe: () => boolean = () => false;
  private readonly tally = new DecisionTally();
  private readonly kinds = new BoundedLabel(64);
  private readonly policies = new BoundedLabel(256);

  constructor(opts: { timeoutSeconds: number; defaultMetrics?: boolean }) {
    const registers = this.registers;
    const tally = this.tally;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const buckets = latencyBuckets(opts.timeoutSeconds);
    this.requestDuration = new FastHistogram({
      name: "virtguard_admission_request_duration_seconds",
      help: "Time from the start of a POST /validate to its response being written, by decision, kind and operation.",
      labelNames: ["decision", "kind", "operation"],
      buckets,
      registers,
    });
    this.evaluationDuration = new FastHistogram({
      name: "virtguard_policy_evaluation_duration_seconds",
      help: "Time spent evaluating the policy set for one admission request (engine only).",
      labelNames: ["kind", "operation"],
      buckets,
      registers,
    });
    this.decisions = new Counter({
      name: "virtguard_decisions_total",
      help:
        "Admission decisions: one per request and matched policy (policy=\"\" when none matched or on an internal error). " +
        "decision is denied or warned when that policy denied or warned, allowed otherwise, error when evaluation failed.",
      labelNames: ["decision", "kind", "operation", "policy"],
      registers,
      collect() {
        tally.flushInto(this);
      },
    });
    this.badRequests = new Counter({
      name: "virtguard_bad_requests_total",
      help: "POST /validate requests refused before evaluation (400 malformed review, 401 client certificate missing or not signed by --client-ca, 413 too large), by HTTP status.",
      labelNames: ["code"],
      registers,
    });
    this.droppedConnections = new Counter({
      name: "virtguard_dropped_connections_total",
      help: "Connections closed on arrival because --max-connections were already open.",
      registers,
    });
    // Counted in a plain number on the hot path, read at scrape.
    this.inFlight = new Gauge({
      name: "virtguard_admission_requests_in_flight",
      help: "POST /validate requests being processed.",
      registers,
      collect() {
        this.set(self.requestsInFlight);
      },
    });
    this.ready = new Gauge({
      name: "virtguard_ready",
      help: "1 when /readyz answers 200.",
      registers,
      collect() {
        this.set(self.readyProbe() ? 1 : 0);
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  kind(kind: string): string {
    return this.kinds.value(kind);
  }

  /** One decision of one policy (policy "" when none matched); counted cheaply, exported at scrape. */
  countDecision(decision: Decision, kind: string, operation: string, policy: string): void {
    this.tally.add(kind, operation, policy === "" ? "" : this.policies.value(policy), decision);
  }

  setPolicySet(generation: number, hash: string, policies: number): void {
    this.policyGeneration.set(generation);
    this.policySetInfo.reset();
    this.policySetInfo.set({ hash }, 1);
    this.policyCount.set(policies);
  }
}
