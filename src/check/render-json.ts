import type { CheckReport } from "./report.js";

/** The documented, stable shape of `--output json` (docs/ci.md); bump `apiVersion` on any incompatible change. */
export const JSON_REPORT_API_VERSION = "virtguard.io/v1";

/**
 * Every key is always present (null when it does not apply) and in a fixed order, so consumers
 * can rely on the shape with or without findings.
 */
export function renderJson(report: CheckReport, version: string, kind: "CheckReport" | "AuditReport" = "CheckReport"): string {
  const doc = {
    apiVersion: JSON_REPORT_API_VERSION,
    kind,
    virtguard: version,
    summary: {
      files: report.summary.files,
      objects: report.summary.objects,
      allowed: report.summary.allowed,
      warned: report.summary.warned,
      denied: report.summary.denied,
      skipped: report.summary.skipped,
      denials: report.summary.denials,
      warnings: report.summary.warnings,
      audits: report.summary.audits,
    },
    files: report.files,
    objects: report.objects.map((o) => ({
      file: o.file,
      line: o.line,
      apiVersion: o.apiVersion,
      kind: o.kind,
      namespace: o.namespace ?? null,
      name: o.name,
      operation: o.operation,
      status: o.status,
      schema: o.schema,
      policies: o.policies,
      findings: o.findings.map((f) => ({
        action: f.action,
        policy: f.policy,
        message: f.message,
        reason: f.reason ?? null,
        path: f.path ?? null,
        file: f.file,
        line: f.line,
      })),
    })),
  };
  return JSON.stringify(doc, null, 2) + "\n";
}
