import { displayName } from "./plan.js";
import { summaryLine, type CheckReport, type ObjectResult } from "./report.js";

/** How reports name an object: "Kind/namespace/name", or "Kind/name" when cluster-scoped. */
export function objectName(o: ObjectResult): string {
  return displayName({ kind: o.kind, namespace: o.namespace ?? "", name: o.name });
}

const LABEL = { Deny: "DENY", Warn: "WARN", Audit: "AUDIT" } as const;

/**
 * kubectl-like: one line per denial or warning, `FILE:LINE  Kind/namespace/name  DENY|WARN  [policy] message`,
 * then the summary line. Audit results are left to the json and sarif formats.
 */
export function renderText(report: CheckReport): string {
  const lines: string[] = [];
  for (const o of report.objects) {
    const name = objectName(o);
    for (const f of o.findings) {
      if (f.action === "Audit") continue;
      // Line 0: an object read from a live cluster, which has no file to point at.
      lines.push(`${f.line > 0 ? `${f.file}:${f.line}  ` : ""}${name}  ${LABEL[f.action]}  [${f.policy}] ${f.message}`);
    }
  }
  lines.push(summaryLine(report.summary));
  return lines.join("\n") + "\n";
}
