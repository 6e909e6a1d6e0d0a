import type { Action } from "../engine/index.js";
import type { PlannedOperation } from "./plan.js";

/** The pseudo-policy name CRD schema problems are reported under. */
export const SCHEMA_POLICY = "schema";

export interface ReportFinding {
  action: Action;
  /** The policy that spoke, or "schema" for a CRD schema problem. */
  policy: string;
  message: string;
  reason?: string;
  /** The field the finding is about, when known (always for schema problems). */
  path?: string;
  file: string;
  /** The field's line when it could be located, else the object's first line. */
  line: number;
}

export type ObjectStatus = "allowed" | "warned" | "denied" | "skipped";

export interface ObjectResult {
  file: string;
  /** The object's first line. */
  line: number;
  apiVersion: string;
  kind: string;
  /** Absent for cluster-scoped objects (and namespaced ones the manifest leaves to kubectl -n). */
  namespace?: string;
  name: string;
  operation: PlannedOperation;
  /** denied: a Deny finding; warned: a Warn finding and no denial; skipped: no policy matched; allowed otherwise. */
  status: ObjectStatus;
  /** valid/invalid against its CRD; unknown when no CRD describes the kind. */
  schema: "valid" | "invalid" | "unknown";
  /** Policies that matched the request and were evaluated, in policy order. */
  policies: string[];
  findings: ReportFinding[];
}

export interface PolicyInfo {
  name: string;
  description: string;
  file: string;
}

export interface Summary {
  files: number;
  objects: number;
  allowed: number;
  warned: number;
  denied: number;
  skipped: number;
  denials: number;
  warnings: number;
  audits: number;
}

export interface CheckReport {
  /** Manifest files read, in order (stdin by its --stdin-name). */
  files: string[];
  policies: PolicyInfo[];
  objects: ObjectResult[];
  summary: Summary;
}

export function summarize(files: readonly string[], objects: readonly ObjectResult[]): Summary {
  const s: Summary = { files: files.length, objects: objects.length, allowed: 0, warned: 0, denied: 0, skipped: 0, denials: 0, warnings: 0, audits: 0 };
  for (const o of objects) {
    s[o.status]++;
    for (const f of o.findings) {
      if (f.action === "Deny") s.denials++;
      else if (f.action === "Warn") s.warnings++;
      else s.audits++;
    }
  }
  return s;
}

export function statusOf(findings: readonly ReportFinding[], matched: boolean): ObjectStatus {
  if (findings.some((f) => f.action === "Deny")) return "denied";
  if (findings.some((f) => f.action === "Warn")) return "warned";
  return matched ? "allowed" : "skipped";
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The closing line of every text report, and of progress on stderr for the other formats. */
export function summaryLine(s: Summary): string {
  return (
    `${plural(s.objects, "object")} in ${plural(s.files, "file")}: ${s.denied} denied, ${s.warned} warned, ${s.allowed} allowed, ` +
    `${s.skipped} skipped (no policy matches); ${plural(s.denials, "denial")}, ${plural(s.warnings, "warning")}`
  );
}

/** The process exit code a report calls for: 1 on a denial, or on a warning with --warnings-as-errors. */
export function exitCodeOf(s: Summary, warningsAsErrors: boolean): 0 | 1 {
  return s.denials > 0 || (warningsAsErrors && s.warnings > 0) ? 1 : 0;
}
