import type { ObjectResult, ReportFinding } from "../check/report.js";
import type { JsonObject, JsonValue } from "../engine/index.js";

/** The PolicyReport API of the Kubernetes Policy WG (kubernetes-sigs/wg-policy-prototypes), as policy-reporter and Kyverno users read it. */
export const POLICY_REPORT_API_VERSION = "wgpolicyk8s.io/v1alpha2";
/** Every report virtguard writes has this name, in each namespace (and once cluster-wide). */
export const REPORT_NAME = "virtguard-audit";
export const MANAGED_BY = { "app.kubernetes.io/managed-by": "virtguard" } as const;

export type ReportResult = "pass" | "fail" | "warn" | "error" | "skip";

export interface PolicyReportResult {
  policy: string;
  message: string;
  result: ReportResult;
  severity: "high" | "medium" | "low";
  source: "virtguard";
  scored: boolean;
  resources: { apiVersion: string; kind: string; name: string; namespace?: string }[];
  properties?: Record<string, string>;
  timestamp?: { seconds: number; nanos: number };
}

export interface PolicyReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

export interface PolicyReport {
  apiVersion: typeof POLICY_REPORT_API_VERSION;
  kind: "PolicyReport" | "ClusterPolicyReport";
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  summary: PolicyReportSummary;
  results: PolicyReportResult[];
}

/** What one finding is in a report: a Deny fails, a Warn or Audit warns, a policy that could not be evaluated is an error. */
function resultOf(f: ReportFinding): Pick<PolicyReportResult, "result" | "severity"> {
  if (f.reason === "InternalError") return { result: "error", severity: "high" };
  if (f.action === "Deny") return { result: "fail", severity: "high" };
  return { result: "warn", severity: f.action === "Warn" ? "medium" : "low" };
}

/**
 * The audit's results as one PolicyReport per namespace and one ClusterPolicyReport for
 * cluster-scoped objects. Every finding is a result; passes (a policy that matched an object and
 * found nothing) are only counted in the summary, so that a namespace of 10,000 compliant VMs
 * gives a report of a few bytes rather than one beyond the API server's object size limit.
 * Results are sorted (kind, namespace, name, policy), so equal audits give equal reports.
 */
export function policyReports(objects: readonly ObjectResult[], timestamp?: Date): PolicyReport[] {
  const byNamespace = new Map<string, PolicyReport>();
  const reportFor = (namespace: string): PolicyReport => {
    let r = byNamespace.get(namespace);
    if (!r) {
      r = {
        apiVersion: POLICY_REPORT_API_VERSION,
        kind: namespace ? "PolicyReport" : "ClusterPolicyReport",
        metadata: namespace ? { name: REPORT_NAME, namespace, labels: { ...MANAGED_BY } } : { name: REPORT_NAME, labels: { ...MANAGED_BY } },
        summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
        results: [],
      };
      byNamespace.set(namespace, r);
    }
    return r;
  };
  const ts = timestamp && { seconds: Math.floor(timestamp.getTime() / 1000), nanos: (timestamp.getTime() % 1000) * 1_000_000 };
  const sorted = [...objects].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.namespace ?? "", b.namespace ?? "") || cmp(a.name, b.name));
  for (const o of sorted) {
    const report = reportFor(o.namespace ?? "");
    const resource = { apiVersion: o.apiVersion, kind: o.kind, name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) };
    const spoke = new Set(o.findings.map((f) => f.policy));
    report.summary.pass += o.policies.filter((p) => !spoke.has(p)).length;
    for (const f of [...o.findings].sort((a, b) => cmp(a.policy, b.policy))) {
      const r: PolicyReportResult = { policy: f.policy, message: f.message, ...resultOf(f), source: "virtguard", scored: true, resources: [resource] };
      const properties: Record<string, string> = { action: f.action };
      if (f.reason) properties.reason = f.reason;
      r.properties = properties;
      if (ts) r.timestamp = ts;
      report.summary[r.result]++;
      report.results.push(r);
    }
  }
  return [...byNamespace.values()].sort((a, b) => cmp(a.metadata.namespace ?? "", b.metadata.namespace ?? ""));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A report's summary and results without their timestamps, with keys sorted: what decides whether a
 * stored report needs rewriting (the API server hands a custom resource back with its keys sorted).
 */
export function reportContent(report: PolicyReport | JsonObject): string {
  return canonical({ summary: (report.summary ?? null) as JsonValue, results: (report.results ?? []) as JsonValue });
}

function canonical(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const keys = Object.keys(value)
    .filter((k) => k !== "timestamp")
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] as JsonValue)}`).join(",")}}`;
}
