import { ObjectStore } from "../cluster/object-store.js";
import { bindParameters, evaluate, ParameterError, type Finding, type JsonObject, type PolicySet, type Verdict } from "../engine/index.js";
import { loadCrdsFor } from "../schema/crds-for.js";
import type { CrdSchemas } from "../schema/crd-schema.js";
import { statSync, readFileSync } from "node:fs";
import { loadPolicySet, PolicyLoadError, type PolicySource } from "../engine/index.js";
import { policyLoadOptions, readPolicySources } from "../policy-files/policy-dir.js";
import { requestFor } from "../apiserver/request.js";
import { mismatches } from "./expect.js";
import { SuiteError, type Suite, type TestCase } from "./suite.js";

export interface CaseResult {
  suite: string;
  name: string;
  passed: boolean;
  /** Why it failed (empty when passed). */
  problems: string[];
  /** What the policies said, for a failure's details. */
  findings: Finding[];
}

/** Loads each combination of policy directories and files once per run, whichever suites share it. */
export class PolicyCache {
  private readonly sets = new Map<string, PolicySet>();
  get(paths: readonly string[]): PolicySet {
    const key = paths.join("\0");
    let set = this.sets.get(key);
    if (!set) this.sets.set(key, (set = loadPolicySet(paths.flatMap(sourcesOf), policyLoadOptions())));
    return set;
  }
}

/** A directory's policies (as the server loads them), or one policy file. */
function sourcesOf(path: string): PolicySource[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new PolicyLoadError([{ file: path, path: "", message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return isDir ? readPolicySources(path) : [{ file: path, text: readFileSync(path, "utf8") }];
}

/**
 * CRD schemas per directory, compiled once for the kinds all suites that use the directory hold
 * (compiling is what costs; see loadCrdsFor).
 */
export class SchemaCache {
  private readonly loaded = new Map<string, CrdSchemas>();
  private readonly objects = new Map<string, JsonObject[]>();

  constructor(suites: readonly Suite[]) {
    for (const suite of suites) {
      if (!suite.crds) continue;
      let list = this.objects.get(suite.crds);
      if (!list) this.objects.set(suite.crds, (list = []));
      for (const tc of suite.cases) list.push(...tc.context, ...[tc.object, tc.oldObject].filter((o): o is JsonObject => o !== null));
    }
  }

  get(dir: string): CrdSchemas {
    let schemas = this.loaded.get(dir);
    if (!schemas) {
      try {
        schemas = loadCrdsFor(dir, this.objects.get(dir) ?? []).schemas;
      } catch (err) {
        throw new SuiteError((err as Error).message);
      }
      this.loaded.set(dir, schemas);
    }
    return schemas;
  }
}

/** An object as the API server stores it: with its schema's defaults. */
function stored(schemas: CrdSchemas | undefined, object: JsonObject): JsonObject;
function stored(schemas: CrdSchemas | undefined, object: JsonObject | null): JsonObject | null;
function stored(schemas: CrdSchemas | undefined, object: JsonObject | null): JsonObject | null {
  return object && schemas?.knows(object) ? schemas.withDefaults(object) : object;
}

/**
 * Runs one case through the engine as the webhook would: its context objects are the cluster.
 * With CRD schemas, a schema error denies the request before any policy (as the API server does,
 * reported by the "schema" pseudo-policy) and objects carry their defaults.
 */
export function runCase(set: PolicySet, tc: TestCase, uid: string, schemas?: CrdSchemas): Verdict {
  const problems = tc.object && schemas ? (schemas.validate(tc.object) ?? []) : [];
  if (problems.length > 0) {
    const denials: Finding[] = problems.map((p) => ({ policy: "schema", action: "Deny", message: p.path ? `${p.path}: ${p.message}` : p.message, reason: "Invalid" }));
    return { allowed: false, denials, warnings: [], audits: [], matched: [] };
  }
  const store = ObjectStore.of(tc.context.map((o) => stored(schemas, o)), set.indexes);
  const object = stored(schemas, tc.object);
  const oldObject = stored(schemas, tc.oldObject);
  // During an UPDATE or DELETE the cluster still holds the previous version.
  if (oldObject && (oldObject.metadata as { name?: unknown } | undefined)?.name) store.upsert(oldObject);
  const request = requestFor({ uid, operation: tc.operation, object, oldObject }, set);
  return evaluate(set, request, { context: store, params: bindParameters(set, tc.params) });
}

/** Every case of a suite. Parameters the policies do not declare, or of the wrong type, make the suite invalid (SuiteError). */
export function runSuite(suite: Suite, policies: PolicyCache, schemaCache?: SchemaCache): CaseResult[] {
  const set = policies.get(suite.policies);
  const schemas = suite.crds ? (schemaCache ?? new SchemaCache([suite])).get(suite.crds) : undefined;
  return suite.cases.map((tc, i) => {
    let verdict: Verdict;
    try {
      verdict = runCase(set, tc, `virtguard-test-${i + 1}`, schemas);
    } catch (err) {
      if (err instanceof ParameterError) throw new SuiteError(`${suite.file}: cases: "${tc.name}": ${err.message}`);
      throw err;
    }
    const problems = mismatches(verdict, tc.expect);
    return { suite: suite.name, name: tc.name, passed: problems.length === 0, problems, findings: [...verdict.denials, ...verdict.warnings] };
  });
}
