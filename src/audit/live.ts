import type { Logger } from "pino";
import type { ClusterSource } from "../cluster/live/in-pod.js";
import type { CheckReport } from "../check/report.js";
import { summarize } from "../check/report.js";
import { bindFlags } from "../check/run.js";
import { matchingPolicies, type ClusterContext, type KindKey, type PolicySet, type TargetSpec } from "../engine/index.js";
import { requestFor } from "../apiserver/request.js";
import { loadPolicyDir } from "../policy-files/policy-dir.js";
import { ObjectStore } from "../cluster/object-store.js";
import { judgeExisting, type Existing } from "./judge.js";
import { progressLog } from "./run.js";

export interface LiveAuditOptions {
  cluster: ClusterSource;
  policies: string;
  params?: readonly string[];
  /** Each object's evaluation budget, as serve's --eval-timeout. */
  evalTimeoutMs: number;
  /** How long to wait for the first list of every kind; default 120 s. */
  syncTimeoutMs?: number;
  log?: (line: string) => void;
  logger: Logger;
}

/**
 * The kinds an audit judges: those some policy matches (on UPDATE) among those the policies look
 * up, i.e. the kinds the informers hold. A kind matched but never looked up is not watched, so it
 * cannot be judged from the caches; `unwatched` names the resources concerned.
 */
export function auditedKinds(set: PolicySet): { kinds: [KindKey, TargetSpec][]; unwatched: string[] } {
  const kinds: [KindKey, TargetSpec][] = [];
  const covered = new Set<string>();
  for (const [kind, target] of set.targets) {
    if (target.fromSecret) continue;
    const probe = requestFor(
      { uid: "", operation: "UPDATE", object: { apiVersion: target.apiVersion, kind: target.kind, metadata: { name: "probe" } }, oldObject: null },
      set,
      new Map([[kind, target.resource]]),
    );
    if (matchingPolicies(set, probe).length === 0) continue;
    kinds.push([kind, target]);
    covered.add(`${probe.resource.group}/${target.resource}`);
  }
  const unwatched = new Set<string>();
  for (const p of set.policies) {
    for (const rule of p.rules) {
      if (!rule.operations.some((o) => o === "UPDATE" || o === "*")) continue;
      for (const group of rule.apiGroups) for (const resource of rule.resources) if (!resource.includes("/") && !covered.has(`${group}/${resource}`)) unwatched.add(`${resource}.${group}`);
    }
  }
  return { kinds, unwatched: [...unwatched].sort() };
}

/** The objects of the audited kinds in a cluster context, as existing objects to judge. */
export function existingObjects(context: ClusterContext, kinds: readonly [KindKey, TargetSpec][], where: string): Existing[] {
  return kinds.flatMap(([kind]) => context.list(kind).map((object) => ({ object, file: where, line: 0 })));
}

/**
 * `virtguard audit --cluster`: lists the kinds the policies look up (the same informers `serve`
 * runs), waits until every one is synced, and judges the objects of the kinds policies match.
 */
export async function auditCluster(opts: LiveAuditOptions): Promise<CheckReport> {
  const log = opts.log ?? (() => undefined);
  const set = loadPolicyDir(opts.policies);
  const { loadKubeConfig } = await import("../cluster/live/kube-config.js");
  const { LiveContextProvider } = await import("../cluster/live/live-provider.js");
  const { kc, description } = loadKubeConfig(opts.cluster);
  const provider = new LiveContextProvider({ kc, description, logger: opts.logger });
  try {
    const params = bindFlags(set, opts.params ?? [], await provider.clusterFacts());
    const context = provider.activate(set);
    const deadline = Date.now() + (opts.syncTimeoutMs ?? 120_000);
    log(`listing from ${description}`);
    for (;;) {
      const waiting = provider.notReady();
      if (waiting === undefined) break;
      if (Date.now() > deadline) throw new Error(`${description}: not synced after ${Math.round((opts.syncTimeoutMs ?? 120_000) / 1000)} s: ${waiting}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const { kinds, unwatched } = auditedKinds(set);
    for (const r of unwatched) log(`note: no policy looks up ${r}, so its objects are not listed and not audited`);
    const existing = existingObjects(context, kinds, "cluster");
    // A snapshot of the caches, so the audit sees one state of the cluster while events go on.
    const store = new ObjectStore(set.indexes);
    for (const kind of set.targets.keys()) for (const o of context.list(kind)) store.upsert(o, kind);
    log(`listed ${existing.length.toLocaleString("en-US")} objects of ${kinds.map(([, t]) => t.kind).join(", ")}`);
    const objects = judgeExisting(existing, { set, params, evalTimeoutMs: opts.evalTimeoutMs, store, resources: new Map(kinds.map(([k, t]) => [k, t.resource])), progress: progressLog(log) });
    return {
      files: [],
      policies: set.policies.map((p) => ({ name: p.name, description: p.description, file: p.file })),
      objects,
      summary: summarize([], objects),
    };
  } finally {
    await provider.close();
  }
}
