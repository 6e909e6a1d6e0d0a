import { bindFlags, count, fmt, loadContext, loadSchemas, noteSkipped } from "../check/run.js";
import { readInputFiles, throwIfAny } from "../check/inputs.js";
import { startParse } from "../check/parse-parallel.js";
import { summarize, type CheckReport } from "../check/report.js";
import { loadPlatform } from "../policy-files/platform.js";
import { loadPolicyDir } from "../policy-files/policy-dir.js";
import { judgeExisting, type Existing } from "./judge.js";

export interface AuditOptions {
  /** Cluster dumps: files or directories (kubectl get -o yaml, Lists, multi-document YAML), '-' for stdin. */
  paths: readonly string[];
  policies: string;
  /** More objects the policies look up, not judged themselves. */
  context?: readonly string[];
  params?: readonly string[];
  /** Each object's evaluation budget, as serve's --eval-timeout. */
  evalTimeoutMs: number;
  crds?: { dir: string; required: boolean };
  stdinName?: string;
  readStdin?: () => string;
  log?: (line: string) => void;
}

/** Progress lines for long runs: every 5,000 objects, with the count denied so far. */
export function progressLog(log: (line: string) => void): (judged: number, total: number, denied: number) => void {
  const started = performance.now();
  return (judged, total, denied) => {
    if (total < 5000 && judged < total) return;
    log(`judged ${fmt(judged)}/${fmt(total)} objects, ${fmt(denied)} denied (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  };
}

/**
 * `virtguard audit` of cluster dumps: every object in them that a policy matches is judged as the
 * cluster would judge it now (see judgeExisting), with every object of the dumps and the context
 * files as the cluster's objects.
 */
export async function runAudit(opts: AuditOptions): Promise<CheckReport> {
  const log = opts.log ?? (() => undefined);
  const files = readInputFiles(opts.paths, { stdinName: opts.stdinName, readStdin: opts.readStdin });
  const parsing = startParse([files]);
  let set;
  try {
    set = loadPolicyDir(opts.policies);
  } catch (err) {
    parsing.cancel();
    throw err;
  }
  const params = bindFlags(set, opts.params ?? []);
  const store = loadContext({ paths: [], policies: opts.policies, context: opts.context, readStdin: opts.readStdin }, set, loadPlatform(opts.policies), log);
  // Files the parse worker has not taken yet are parsed here, so both cores parse a directory of dumps.
  parsing.help();
  const [result] = await parsing.result;
  throwIfAny(result?.errors ?? []);
  noteSkipped(result?.skipped ?? [], log);
  const parsed = result?.objects ?? [];
  log(`read ${count(parsed.length, "object")} from ${count(files.length, "file")}; ${count(set.policies.length, "policy", "policies")} from ${opts.policies}`);
  const crds = loadSchemas({ paths: [], policies: opts.policies, crds: opts.crds }, parsed.map((p) => p.object), log);
  const existing: Existing[] = parsed;
  const objects = judgeExisting(existing, { set, params, evalTimeoutMs: opts.evalTimeoutMs, store, resources: crds?.resources, schemas: crds?.schemas, progress: progressLog(log) });
  const names = files.map((f) => f.file);
  return {
    files: names,
    policies: set.policies.map((p) => ({ name: p.name, description: p.description, file: p.file })),
    objects,
    summary: summarize(names, objects),
  };
}
