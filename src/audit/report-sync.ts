import { createHash } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ApiError, getJson, sendJson } from "../cluster/live/api-client.js";
import { MANAGED_BY, POLICY_REPORT_API_VERSION, REPORT_NAME, reportContent, type PolicyReport } from "./policy-report.js";

/** The annotation holding a report's results digest: a new leader compares it instead of the results. */
export const DIGEST_ANNOTATION = "virtguard.io/results-digest";

/** A report virtguard wrote earlier, as listed or as written: its namespace ("" cluster-wide), digest and version. */
export interface StoredReport {
  namespace: string;
  digest: string | undefined;
  resourceVersion: string | undefined;
}

export interface ReportWrites {
  create: PolicyReport[];
  update: { report: PolicyReport; resourceVersion: string | undefined }[];
  /** Reports of namespaces with nothing to report any more (every object passes, or no object is left). */
  remove: StoredReport[];
}

/** The digest of what a report says (summary and results, not their timestamps). */
export function reportDigest(report: PolicyReport): string {
  return createHash("sha256").update(reportContent(report)).digest("hex").slice(0, 32);
}

/**
 * The writes that make the stored reports say what the audit found: a report per namespace with
 * findings (one ClusterPolicyReport for cluster-scoped objects), created when missing, updated only
 * when its digest differs (a later audit with the same results writes nothing), and removed when its
 * namespace has no finding left. A namespace where everything passes has no report.
 */
export function planReportWrites(desired: readonly PolicyReport[], stored: ReadonlyMap<string, StoredReport>): ReportWrites {
  const writes: ReportWrites = { create: [], update: [], remove: [] };
  const wanted = new Set<string>();
  for (const report of desired) {
    if (report.results.length === 0) continue;
    const namespace = report.metadata.namespace ?? "";
    wanted.add(namespace);
    const existing = stored.get(namespace);
    if (!existing) writes.create.push(report);
    else if (existing.digest !== reportDigest(report)) writes.update.push({ report, resourceVersion: existing.resourceVersion });
  }
  for (const [namespace, existing] of stored) if (!wanted.has(namespace)) writes.remove.push(existing);
  return writes;
}

const GROUP_VERSION = `/apis/${POLICY_REPORT_API_VERSION}`;

function reportPath(namespace: string, name?: string): string {
  const collection = namespace === "" ? `${GROUP_VERSION}/clusterpolicyreports` : `${GROUP_VERSION}/namespaces/${encodeURIComponent(namespace)}/policyreports`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

interface ListedReport {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> };
}

export interface SyncOutcome {
  created: number;
  updated: number;
  deleted: number;
}

/**
 * Writes the audit's PolicyReports to the cluster. What it wrote is remembered (digest and
 * resourceVersion by namespace), so a steady cluster costs no request at all; the reports are
 * listed (by virtguard's managed-by label) only on the first sync, and again after a write failed
 * (someone else changed or deleted a report, or a leader before this one left others).
 */
export class ReportWriter {
  private stored: Map<string, StoredReport> | undefined;
  private missingCrdLogged = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly logger: Logger,
  ) {}

  private async list(): Promise<Map<string, StoredReport>> {
    const selector = `?labelSelector=${encodeURIComponent(Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(","))}`;
    const out = new Map<string, StoredReport>();
    for (const path of [`${GROUP_VERSION}/policyreports`, `${GROUP_VERSION}/clusterpolicyreports`]) {
      const listed = await getJson<{ items?: ListedReport[] }>(this.kc, path + selector);
      for (const item of listed.items ?? []) {
        const m = item.metadata ?? {};
        if (m.name !== REPORT_NAME) continue;
        out.set(m.namespace ?? "", { namespace: m.namespace ?? "", digest: m.annotations?.[DIGEST_ANNOTATION], resourceVersion: m.resourceVersion });
      }
    }
    return out;
  }

  /** Makes the cluster's reports those given; throws when the reports cannot be listed. */
  async sync(desired: readonly PolicyReport[]): Promise<SyncOutcome> {
    let stored = this.stored;
    if (!stored) {
      try {
        stored = await this.list();
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 404) {
          if (!this.missingCrdLogged) this.logger.warn("the PolicyReport CRDs (wgpolicyk8s.io/v1alpha2) are not installed: audit results go to metrics and logs only");
          this.missingCrdLogged = true;
          return { created: 0, updated: 0, deleted: 0 };
        }
        throw err;
      }
      this.missingCrdLogged = false;
      this.stored = stored;
    }
    const writes = planReportWrites(desired, stored);
    const outcome: SyncOutcome = { created: 0, updated: 0, deleted: 0 };
    let failed = false;
    const remember = (namespace: string, written: ListedReport, digest: string) => stored.set(namespace, { namespace, digest, resourceVersion: written.metadata?.resourceVersion });
    const withDigest = (report: PolicyReport, resourceVersion?: string) => {
      const digest = reportDigest(report);
      const metadata = { ...report.metadata, annotations: { [DIGEST_ANNOTATION]: digest }, ...(resourceVersion ? { resourceVersion } : {}) };
      return { body: { ...report, metadata }, digest };
    };
    const attempt = async (what: string, namespace: string, write: () => Promise<void>) => {
      try {
        await write();
      } catch (err) {
        failed = true;
        this.logger.warn({ namespace: namespace || "(cluster)", err: (err as Error).message }, `could not ${what} the audit report; the reports are listed again next time`);
      }
    };
    for (const report of writes.create) {
      const namespace = report.metadata.namespace ?? "";
      await attempt("create", namespace, async () => {
        const { body, digest } = withDigest(report);
        remember(namespace, await sendJson<ListedReport>(this.kc, "POST", reportPath(namespace), body), digest);
        outcome.created++;
      });
    }
    for (const { report, resourceVersion } of writes.update) {
      const namespace = report.metadata.namespace ?? "";
      await attempt("update", namespace, async () => {
        const { body, digest } = withDigest(report, resourceVersion);
        remember(namespace, await sendJson<ListedReport>(this.kc, "PUT", reportPath(namespace, REPORT_NAME), body), digest);
        outcome.updated++;
      });
    }
    for (const gone of writes.remove) {
      await attempt("delete", gone.namespace, async () => {
        try {
          await sendJson(this.kc, "DELETE", reportPath(gone.namespace, REPORT_NAME), undefined);
        } catch (err) {
          if (!(err instanceof ApiError && err.statusCode === 404)) throw err;
        }
        stored.delete(gone.namespace);
        outcome.deleted++;
      });
    }
    if (failed) this.stored = undefined;
    return outcome;
  }

  /** Forgets what was written: the next sync lists again (a new leader, whose predecessor may have written since). */
  forget(): void {
    this.stored = undefined;
  }
}
