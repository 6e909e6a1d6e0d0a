import { existsSync } from "node:fs";
import { ObjectStore } from "../cluster/object-store.js";
import {
  bindParameters,
  evaluate,
  isObject,
  requestBudget,
  matchingPolicies,
  parseParameterFlag,
  type BoundParameters,
  type ClusterFacts,
  type Finding,
  type JsonObject,
  type JsonValue,
  type KindKey,
  type PolicySet,
} from "../engine/index.js";
import { loadPolicyDir } from "../policy-files/policy-dir.js";
import { asStored, asStoredObject, withClusterScope, type Stored } from "./apiserver.js";
import { withPlatformDefaults } from "./platform-defaults.js";
import { RejectedObjects } from "./rejected.js";
import { loadPlatform, type Platform } from "../policy-files/platform.js";
import { covers, loadCrdsFor, scannedObjects, scanTypes, type LoadedCrds } from "../schema/crds-for.js";
import { useRuleCode } from "../schema/crd-rules.js";
import { selfRuleCodeStore } from "../policy-files/code-store.js";
import { readInputFiles, throwIfAny, type InputFile } from "./inputs.js";
import { parseObjects, type ParsedObject, type SkippedDocument } from "../cluster/files.js";
import { startParse } from "./parse-parallel.js";
import { FieldLocator, leadingFieldPath } from "./locate.js";
import { displayName, planOperations, type PlannedItem } from "./plan.js";
import { Profile } from "./profile.js";
import { SCHEMA_POLICY, statusOf, summarize, type CheckReport, type ObjectResult, type ReportFinding } from "./report.js";
import { requestFor } from "../apiserver/request.js";

export interface CheckOptions {
  paths: readonly string[];
  /** Policy directory. */
  policies: string;
  /** Context files or directories (cluster objects the manifests do not hold). */
  context?: readonly string[];
  /** NAME=VALUE parameter flags. */
  params?: readonly string[];
  /** The previous versions of the manifests; makes UPDATEs (and DELETEs with `deletions`). */
  against?: readonly string[];
  deletions?: boolean;
  /** CRD directory; `required` makes a missing one an error instead of a note. */
  crds?: { dir: string; required: boolean };
  stdinName?: string;
  readStdin?: () => string;
  /** Progress and notes, for stderr. */
  log?: (line: string) => void;
  profile?: Profile;
  /** From how many bytes of manifests on parsing moves to a worker thread (default PARALLEL_PARSE_BYTES). */
  parallelParseBytes?: number;
  /** Evaluation deadline per object, as serve's --eval-timeout (default 2000 ms). */
  evalTimeoutMs?: number;
}

/** 12,345: by hand, because the first toLocaleString call loads ICU's number formatting (tens of ms at start-up). */
export function fmt(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** "1 file", "12,345 files": progress lines read as sentences. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${fmt(n)} ${n === 1 ? one : many}`;
}

/**
 * `virtguard check` without the output: reads the manifests, plans CREATE/UPDATE/DELETE against
 * the previous versions, validates and defaults them as the API server would, and runs every
 * matching policy with the manifests themselves (plus context files) as the cluster's objects.
 */
export async function runCheck(opts: CheckOptions): Promise<CheckReport> {
  const profile = opts.profile ?? new Profile(false);
  const log = opts.log ?? (() => undefined);

  const files = profile.phase("read", () => readInputFiles(opts.paths, { stdinName: opts.stdinName, readStdin: opts.readStdin }));
  const previousFiles = opts.against ? profile.phase("read", () => readInputFiles(opts.against ?? [])) : [];
  // A large tree is parsed in a worker while this thread compiles policies and CRD schemas.
  const parsing = startParse(opts.against ? [files, previousFiles] : [files], opts.parallelParseBytes);
  let prepared;
  try {
    prepared = prepare(opts, parsing.parallel ? [...files, ...previousFiles] : undefined, profile, log);
  } catch (err) {
    parsing.cancel();
    throw err;
  }
  const { set, params, store, scan, platform } = prepared;
  let crds = prepared.crds;

  if (parsing.parallel) profile.phase("parse-help", () => parsing.help());
  const [currentParse, previousParse] = parsing.parallel ? await profile.phaseAsync("parse-wait", () => parsing.result) : await parsing.result;
  profile.record(parsing.parallel ? "parse (worker)" : "parse", parsing.parseMs());
  throwIfAny([...(currentParse?.errors ?? []), ...(previousParse?.errors ?? [])]);
  noteSkipped([...(currentParse?.skipped ?? []), ...(previousParse?.skipped ?? [])], log);
  const current = currentParse?.objects ?? [];
  const previous = previousParse?.objects;
  log(`read ${count(current.length, "object")} from ${count(files.length, "file")}${previous ? `, ${count(previous.length, "previous object")} from ${count(previousFiles.length, "file")}` : ""}`);
  const all = [...current, ...(previous ?? [])].map((p) => p.object);
  // Schemas compiled from the scan serve unless it missed a type (then compile exactly what is there).
  if (!scan || (crds && !covers(scan, all))) crds = profile.phase("crds", () => loadSchemas(opts, all, log));

  // The API server drops the namespace of cluster-scoped objects before anything else sees them:
  // in the manifests and in the context files, which describe the cluster as stored.
  store.reshapeEach((o) => withClusterScope(o, crds?.schemas));
  const scoped = (list: readonly ParsedObject[]) => list.map((p) => ({ ...p, object: withClusterScope(p.object, crds?.schemas) }));
  const plan = planOperations(scoped(current), previous && scoped(previous), opts.deletions ?? false);
  for (const note of plan.notes) log(`note: ${note}`);

  const mutate = platformDefaulting(platform, store, plan.items);
  // The parsed manifests are this run's own: decoded in place, not copied (memory and time for 10,000 objects).
  const stored = profile.phase("schema", () => plan.items.map((item) => asStored(item, crds?.schemas, mutate, true)));

  const rejected = new RejectedObjects();
  profile.phase("context", () => {
    // The cluster after the change: previous objects, replaced by the new manifests, less deletions.
    // A manifest its schema rejects never gets there: the previous version (if any) stays.
    for (const [i, item] of plan.items.entries()) if (item.operation === "UPDATE") upsertNamed(store, stored[i]?.oldObject);
    for (const old of plan.untouched) upsertNamed(store, asStoredObject(old.object, crds?.schemas, true));
    for (const [i, item] of plan.items.entries()) {
      const s = stored[i];
      if (item.operation === "DELETE" || !s?.object) continue;
      if (s.problems.length === 0) upsertNamed(store, s.object);
      else rejected.add(s.object, `${displayName(item.identity)} (${item.subject.file}:${item.subject.line})`);
    }
  });

  const objects = profile.phase("evaluate", () =>
    plan.items.map((item, i) => judge(item, stored[i] as Stored, i, { set, params, store, rejected, resources: crds?.resources, evalTimeoutMs: opts.evalTimeoutMs ?? 2000 })),
  );

  profile.phase("locate", () => {
    const texts = new Map([...files, ...previousFiles].map((f) => [f.file, f.text]));
    const locator = new FieldLocator(texts);
    for (const o of objects) {
      for (const f of o.findings) {
        const path = f.path ?? leadingFieldPath(f.message);
        if (!path) continue;
        const line = locator.line(o.file, o.line, path);
        if (line !== undefined) f.line = line;
      }
    }
  });

  return {
    files: files.map((f) => f.file),
    policies: set.policies.map((p) => ({ name: p.name, description: p.description, file: p.file })),
    objects,
    summary: summarize(
      files.map((f) => f.file),
      objects,
    ),
  };
}

/** What the main thread does while a worker parses: policies, parameters, context, and (from a scan of the texts) CRD schemas. */
function prepare(opts: CheckOptions, scanned: InputFile[] | undefined, profile: Profile, log: (line: string) => void) {
  const scan = scanned && opts.crds ? profile.phase("scan", () => scanTypes(scanned.map((f) => f.text))) : undefined;
  const set = profile.phase("policies", () => loadPolicyDir(opts.policies));
  const params = bindFlags(set, opts.params ?? []);
  const platform = loadPlatform(opts.policies);
  const store = profile.phase("context", () => loadContext(opts, set, platform, log));
  log(`${count(set.policies.length, "policy", "policies")} from ${opts.policies}`);
  const crds = scan ? profile.phase("crds", () => loadSchemas(opts, scannedObjects(scan), log)) : undefined;
  return { set, params, store, scan, crds, platform };
}

/**
 * The platform's mutating defaults, looking up what the cluster would hold once the manifests are
 * applied: the context (platform objects included) and the manifests themselves, which win.
 */
function platformDefaulting(platform: Platform, store: ObjectStore, items: readonly PlannedItem[]): ((object: JsonObject) => JsonObject) | undefined {
  if (platform.defaults.length === 0) return undefined;
  const lists = new Map<KindKey, JsonObject[]>();
  const list = (kind: KindKey): readonly JsonObject[] => {
    let objects = lists.get(kind);
    if (!objects) {
      const byName = new Map<string, JsonObject>();
      for (const o of store.list(kind)) byName.set(keyOf(o), o);
      for (const item of items) {
        if (item.operation === "DELETE" || ObjectStore.keyOf(item.subject.object) !== kind) continue;
        byName.set(keyOf(item.subject.object), item.subject.object);
      }
      lists.set(kind, (objects = [...byName.values()]));
    }
    return objects;
  };
  return (object) => withPlatformDefaults(object, platform.defaults, list);
}

function keyOf(object: JsonObject): string {
  const { name, namespace } = nameOf(object);
  return `${namespace}/${name}`;
}

/**
 * Context files, parsed as fast as the manifests (a cluster dump can hold 50,000 leases), and
 * like them files or directories.
 */
export function loadContext(opts: CheckOptions, set: PolicySet, platform: Platform, log: (line: string) => void): ObjectStore {
  const store = new ObjectStore(set.indexes);
  // What the platform creates at install is there unless the context says otherwise.
  for (const f of readInputFiles(platform.objectFiles)) for (const { object } of parseObjects(f.text, f.file, [])) store.upsert(object);
  const skipped: SkippedDocument[] = [];
  for (const f of readInputFiles(opts.context ?? [], { readStdin: opts.readStdin })) {
    for (const { object } of parseObjects(f.text, f.file, skipped)) store.upsert(object);
  }
  noteSkipped(skipped, log);
  return store;
}

/** One note for all the documents passed over, each with where it is and why. */
export function noteSkipped(skipped: readonly SkippedDocument[], log: (line: string) => void): void {
  if (skipped.length === 0) return;
  const shown = skipped.slice(0, 20).map((s) => `${s.file}:${s.line} (${s.reason})`);
  const more = skipped.length > shown.length ? `, and ${fmt(skipped.length - shown.length)} more` : "";
  log(`note: skipped ${count(skipped.length, "document")} that are not Kubernetes objects: ${shown.join(", ")}${more}`);
}

export function bindFlags(set: PolicySet, flags: readonly string[], facts: ClusterFacts = {}): BoundParameters {
  const given: Record<string, JsonValue> = {};
  for (const flag of flags) {
    const [name, value] = parseParameterFlag(flag);
    given[name] = value;
  }
  return bindParameters(set, given, facts);
}

export function loadSchemas(opts: CheckOptions, objects: readonly JsonObject[], log: (line: string) => void): LoadedCrds | undefined {
  if (!opts.crds) return undefined;
  if (!opts.crds.required && !existsSync(opts.crds.dir)) {
    log(`note: no CRD directory at ${opts.crds.dir}; objects are not checked against their schemas (give --crds DIR)`);
    return undefined;
  }
  // The shipped CRDs' rules were compiled by the build.
  useRuleCode(selfRuleCodeStore());
  return loadCrdsFor(opts.crds.dir, objects);
}

function nameOf(object: JsonObject): { name: string; namespace: string } {
  const m = isObject(object.metadata) ? object.metadata : {};
  return { name: typeof m.name === "string" ? m.name : "", namespace: typeof m.namespace === "string" ? m.namespace : "" };
}

function upsertNamed(store: ObjectStore, object: JsonObject | null | undefined): void {
  if (object && nameOf(object).name) store.upsert(object);
}

/**
 * Runs fn with the store showing the object under judgment as the cluster would during its
 * admission: absent on CREATE, at its previous version on UPDATE and DELETE.
 */
function asDuringAdmission<T>(store: ObjectStore, stored: Stored, fn: () => T): T {
  const self = stored.object ?? stored.oldObject;
  if (!self) return fn();
  const { name, namespace } = nameOf(self);
  if (!name) return fn();
  const kind = ObjectStore.keyOf(self);
  const present = store.get(kind, name, namespace);
  // Already as during its admission (an audit's UPDATE of itself): nothing to swap, no index churn.
  if (stored.oldObject && present === stored.oldObject) return fn();
  if (stored.oldObject) store.upsert(stored.oldObject, kind);
  else if (present) store.delete(present, kind);
  try {
    return fn();
  } finally {
    if (present) store.upsert(present, kind);
    else store.delete(self, kind);
  }
}

/** What a finding takes for granted, and the flag that says otherwise. */
export function assumptionNote(f: Finding, params: BoundParameters): string {
  if (!f.assumes || f.assumes.length === 0) return "";
  const parts = f.assumes.map((name) => `${name}=${JSON.stringify(params.values[name] ?? null)}`);
  const flags = f.assumes.map((name) => `--param ${name}=...`);
  return ` (assuming ${parts.join(", ")}, the default${parts.length > 1 ? "s" : ""}: pass ${flags.join(" ")} with what the cluster runs)`;
}

export interface Judge {
  set: PolicySet;
  params: BoundParameters;
  store: ObjectStore;
  rejected: RejectedObjects;
  resources: ReadonlyMap<string, string> | undefined;
  evalTimeoutMs: number;
}

/** One object's result, as the API server would give it: schema problems first, then every matching policy. */
export function judge(item: Pick<PlannedItem, "operation" | "identity" | "subject">, stored: Stored, index: number, ctx: Judge): ObjectResult {
  const { subject, identity } = item;
  const at = { file: subject.file, line: subject.line };
  const findings: ReportFinding[] = stored.problems.map((p) => ({
    action: "Deny",
    policy: SCHEMA_POLICY,
    message: p.path ? `${p.path}: ${p.message}` : p.message,
    reason: "Invalid",
    path: p.path,
    ...at,
  }));
  const policies: string[] = [];
  // As in the API server, an object its schema rejects never reaches validating admission.
  if (stored.problems.length === 0) {
    const request = requestFor({ uid: `virtguard-check-${index + 1}`, operation: item.operation, object: stored.object, oldObject: stored.oldObject }, ctx.set, ctx.resources);
    if (matchingPolicies(ctx.set, request).length > 0) {
      const consulted = new Set<string>();
      const context = ctx.rejected.size > 0 ? ctx.rejected.watching(ctx.store, consulted) : ctx.store;
      const verdict = asDuringAdmission(ctx.store, stored, () => evaluate(ctx.set, request, { context, params: ctx.params, budget: requestBudget(ctx.evalTimeoutMs) }));
      policies.push(...verdict.matched);
      // A finding owed to a manifest the API server refuses (it would not be there with the
      // manifest accepted) says so: the fix is that manifest, not this one.
      let owed = (_f: Finding) => false;
      if (consulted.size > 0) {
        const accepted = ctx.rejected.asIfAccepted(ctx.store, () => asDuringAdmission(ctx.store, stored, () => evaluate(ctx.set, request, { context: ctx.store, params: ctx.params, budget: requestBudget(ctx.evalTimeoutMs) })));
        const still = new Set([...accepted.denials, ...accepted.warnings, ...accepted.audits].map((f) => `${f.policy}\0${f.message}`));
        owed = (f) => !still.has(`${f.policy}\0${f.message}`);
      }
      const because = ` (the cluster would not have ${[...consulted].join(", ")}: denied by ${consulted.size === 1 ? "its schema" : "their schemas"})`;
      for (const f of [...verdict.denials, ...verdict.warnings, ...verdict.audits]) {
        if (!policies.includes(f.policy)) policies.push(f.policy);
        const message = (owed(f) ? f.message + because : f.message) + assumptionNote(f, ctx.params);
        const finding: ReportFinding = { action: f.action, policy: f.policy, message, ...at };
        if (f.reason) finding.reason = f.reason;
        findings.push(finding);
      }
    }
  }
  const result: ObjectResult = {
    ...at,
    apiVersion: identity.apiVersion,
    kind: identity.kind,
    name: identity.name,
    operation: item.operation,
    status: statusOf(findings, policies.length > 0),
    schema: !stored.schemaKnown ? "unknown" : stored.problems.length > 0 ? "invalid" : "valid",
    policies,
    findings,
  };
  if (identity.namespace) result.namespace = identity.namespace;
  return result;
}
