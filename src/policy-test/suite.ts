import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ManifestError, readObjectsFile } from "../cluster/files.js";
import { isObject, type JsonObject, type JsonValue, type Operation } from "../engine/index.js";
import { parseYaml, YamlError } from "../yaml/read.js";
import { mergePatch } from "./merge-patch.js";

/** The kind of a suite file, `virtguard-test.yaml`. */
export const SUITE_API_VERSION = "virtguard.io/v1";
export const SUITE_KIND = "PolicyTestSuite";

export type ExpectedResult = "allowed" | "warned" | "denied";

/** One finding a case expects: from this policy (any when absent), with this text. */
export interface ExpectedFinding {
  action: "Deny" | "Warn";
  policy?: string;
  /** A substring of the message. */
  message?: string;
  /** A regular expression the message must match. */
  messageRegex?: RegExp;
}

export interface Expectation {
  result: ExpectedResult;
  /** Each must be met by a distinct finding. */
  findings: ExpectedFinding[];
}

export interface TestCase {
  name: string;
  operation: Operation;
  object: JsonObject | null;
  oldObject: JsonObject | null;
  context: JsonObject[];
  params: Record<string, JsonValue>;
  expect: Expectation;
}

export interface Suite {
  file: string;
  name: string;
  /** Absolute paths of the policy directories and files under test. */
  policies: string[];
  /** CRD directory: when set, objects are validated and defaulted as the API server would, before the policies. */
  crds?: string;
  cases: TestCase[];
}

/** A suite file that cannot be run: exit 2. The message names the file and the field. */
export class SuiteError extends Error {}

type Raw = Record<string, unknown>;


const RESULTS: readonly ExpectedResult[] = ["allowed", "warned", "denied"];
const OPERATIONS: readonly Operation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/** Reads and checks a suite; every path in it is relative to the suite file. */
export function loadSuite(file: string): Suite {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SuiteError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let parsed: ReturnType<typeof parseYaml>;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw new SuiteError(`${file}:${err.line}: invalid YAML: ${err.reason}`);
    throw err;
  }
  const { tree, documents } = parsed;
  if (documents.length > 1) throw new SuiteError(`${file}: invalid YAML: expected one document, found ${documents.length}`);
  const raw: unknown = documents[0] ?? null;
  const root = tree.roots()[0];
  const lineOf = (path: (string | number)[]): string => {
    const line = root === undefined ? undefined : tree.lineAt(root, path);
    return line === undefined ? "" : `:${line}`;
  };
  return new SuiteReader(file, lineOf).read(raw);
}

class SuiteReader {
  private readonly dir: string;
  private readonly files = new Map<string, JsonObject[]>();

  constructor(
    private readonly file: string,
    private readonly lineOf: (path: (string | number)[]) => string,
  ) {
    this.dir = dirname(file);
  }

  private fail(path: (string | number)[], message: string): never {
    const dotted = path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
    throw new SuiteError(`${this.file}${this.lineOf(path)}: ${dotted || "(document)"}: ${message}`);
  }

  private keys(value: Raw, path: (string | number)[], allowed: readonly string[]): void {
    for (const k of Object.keys(value)) if (!allowed.includes(k)) this.fail([...path, k], `unknown field; expected one of ${allowed.join(", ")}`);
  }

  private string(value: unknown, path: (string | number)[]): string {
    if (typeof value !== "string" || value === "") this.fail(path, "must be a non-empty string");
    return value;
  }

  read(raw: unknown): Suite {
    if (!isObject(raw)) this.fail([], "a suite is a YAML mapping (apiVersion, kind, policies, cases, ...)");
    this.keys(raw, [], ["apiVersion", "kind", "name", "policies", "crds", "context", "params", "cases"]);
    if (raw.apiVersion !== SUITE_API_VERSION) this.fail(["apiVersion"], `must be ${SUITE_API_VERSION}`);
    if (raw.kind !== SUITE_KIND) this.fail(["kind"], `must be ${SUITE_KIND}`);
    const name = raw.name === undefined ? this.file : this.string(raw.name, ["name"]);
    const policies = Array.isArray(raw.policies)
      ? raw.policies.map((p, i) => resolve(this.dir, this.string(p, ["policies", i])))
      : [resolve(this.dir, this.string(raw.policies, ["policies"]))];
    if (policies.length === 0) this.fail(["policies"], "must name a policy directory, or list policy directories and files");
    const context = raw.context === undefined ? [] : this.objects(raw.context, ["context"]);
    const params = raw.params === undefined ? {} : this.params(raw.params, ["params"]);
    if (!Array.isArray(raw.cases) || raw.cases.length === 0) this.fail(["cases"], "must be a non-empty list of test cases");
    const names = new Set<string>();
    const cases = raw.cases.map((c, i) => {
      const tc = this.testCase(c, ["cases", i], context, params);
      if (names.has(tc.name)) this.fail(["cases", i, "name"], `"${tc.name}" is already the name of another case`);
      names.add(tc.name);
      return tc;
    });
    const suite: Suite = { file: this.file, name, policies, cases };
    if (raw.crds !== undefined) suite.crds = resolve(this.dir, this.string(raw.crds, ["crds"]));
    return suite;
  }

  private params(value: unknown, path: (string | number)[]): Record<string, JsonValue> {
    if (!isObject(value)) this.fail(path, "must be a mapping of parameter names to values");
    return value as Record<string, JsonValue>;
  }

  private testCase(raw: unknown, path: (string | number)[], context: JsonObject[], params: Record<string, JsonValue>): TestCase {
    if (!isObject(raw)) this.fail(path, "a case is a mapping (name, resource, expect, ...)");
    this.keys(raw, path, ["name", "resource", "oldResource", "operation", "context", "params", "expect"]);
    const name = this.string(raw.name, [...path, "name"]);
    const object = raw.resource === undefined ? null : this.object(raw.resource, [...path, "resource"]);
    const oldObject = raw.oldResource === undefined ? null : this.object(raw.oldResource, [...path, "oldResource"]);
    let operation: Operation;
    if (raw.operation === undefined) {
      operation = object && oldObject ? "UPDATE" : object ? "CREATE" : "DELETE";
    } else {
      if (typeof raw.operation !== "string" || !OPERATIONS.includes(raw.operation as Operation)) this.fail([...path, "operation"], `must be one of ${OPERATIONS.join(", ")}`);
      operation = raw.operation as Operation;
    }
    if (!object && !oldObject) this.fail(path, "needs a resource (or, for a DELETE, an oldResource)");
    if (operation === "CREATE" && (!object || oldObject)) this.fail(path, "a CREATE has a resource and no oldResource");
    if (operation === "UPDATE" && (!object || !oldObject)) this.fail(path, "an UPDATE needs both resource and oldResource");
    if (operation === "DELETE" && (object || !oldObject)) this.fail(path, "a DELETE has an oldResource (the object deleted) and no resource");
    return {
      name,
      operation,
      object,
      oldObject,
      context: [...context, ...(raw.context === undefined ? [] : this.objects(raw.context, [...path, "context"]))],
      params: { ...params, ...(raw.params === undefined ? {} : this.params(raw.params, [...path, "params"])) },
      expect: this.expectation(raw.expect, [...path, "expect"]),
    };
  }

  private expectation(raw: unknown, path: (string | number)[]): Expectation {
    if (typeof raw === "string") raw = { result: raw };
    if (!isObject(raw)) this.fail(path, "must be allowed, warned, denied, or a mapping with result (and policy, message, messageRegex, findings)");
    this.keys(raw, path, ["result", "policy", "message", "messageRegex", "findings"]);
    if (typeof raw.result !== "string" || !RESULTS.includes(raw.result as ExpectedResult)) this.fail([...path, "result"], `must be one of ${RESULTS.join(", ")}`);
    const result = raw.result as ExpectedResult;
    const action = result === "warned" ? "Warn" : "Deny";
    const findings: ExpectedFinding[] = [];
    if (raw.policy !== undefined || raw.message !== undefined || raw.messageRegex !== undefined) {
      findings.push(this.finding({ policy: raw.policy, message: raw.message, messageRegex: raw.messageRegex }, path, action));
    }
    if (raw.findings !== undefined) {
      if (!Array.isArray(raw.findings)) this.fail([...path, "findings"], "must be a list of {action, policy, message, messageRegex}");
      raw.findings.forEach((f, i) => {
        if (!isObject(f)) this.fail([...path, "findings", i], "must be a mapping {action, policy, message, messageRegex}");
        this.keys(f, [...path, "findings", i], ["action", "policy", "message", "messageRegex"]);
        let own: "Deny" | "Warn" = action;
        if (f.action !== undefined) {
          if (f.action !== "Deny" && f.action !== "Warn") this.fail([...path, "findings", i, "action"], "must be Deny or Warn");
          own = f.action;
        }
        findings.push(this.finding(f, [...path, "findings", i], own));
      });
    }
    if (result === "allowed" && findings.length > 0) this.fail(path, "an allowed case expects no finding: drop policy, message and findings");
    if (result === "warned" && findings.some((f) => f.action === "Deny")) this.fail(path, "a warned case cannot expect a Deny finding");
    return { result, findings };
  }

  private finding(raw: Raw, path: (string | number)[], action: "Deny" | "Warn"): ExpectedFinding {
    const f: ExpectedFinding = { action };
    if (raw.policy !== undefined) f.policy = this.string(raw.policy, [...path, "policy"]);
    if (raw.message !== undefined) f.message = this.string(raw.message, [...path, "message"]);
    if (raw.messageRegex !== undefined) {
      const source = this.string(raw.messageRegex, [...path, "messageRegex"]);
      try {
        f.messageRegex = new RegExp(source);
      } catch (err) {
        this.fail([...path, "messageRegex"], `not a valid regular expression: ${(err as Error).message}`);
      }
    }
    return f;
  }

  /** An inline object, or {file, name?, patch?}: the one object of a file (or the one named), merge-patched. */
  private object(raw: unknown, path: (string | number)[]): JsonObject {
    if (!isObject(raw)) this.fail(path, "must be a Kubernetes object, or {file: PATH, name?: NAME, patch?: {...}}");
    if (raw.file === undefined) {
      if (typeof raw.apiVersion !== "string" || typeof raw.kind !== "string") this.fail(path, "an inline object needs apiVersion and kind (or use file: PATH)");
      return raw as JsonObject;
    }
    this.keys(raw, path, ["file", "name", "patch"]);
    const candidates = this.readFile(raw.file, [...path, "file"]);
    let chosen = candidates;
    if (raw.name !== undefined) {
      const name = this.string(raw.name, [...path, "name"]);
      chosen = candidates.filter((o) => (o.metadata as { name?: unknown } | undefined)?.name === name);
      if (chosen.length === 0) this.fail([...path, "name"], `no object named "${name}" in ${String(raw.file)}`);
    }
    if (chosen.length !== 1) this.fail(path, `${String(raw.file)} holds ${chosen.length} objects; pick one with name: NAME`);
    let object = structuredClone(chosen[0] as JsonObject);
    if (raw.patch !== undefined) {
      if (!isObject(raw.patch)) this.fail([...path, "patch"], "must be a mapping (a JSON merge patch: null removes a field)");
      object = mergePatch(object, raw.patch as JsonObject) as JsonObject;
    }
    return object;
  }

  /** A list of inline objects and {file: PATH} entries (every object of the file). */
  private objects(raw: unknown, path: (string | number)[]): JsonObject[] {
    if (!Array.isArray(raw)) this.fail(path, "must be a list of objects or {file: PATH} entries");
    return raw.flatMap((entry, i) => {
      if (isObject(entry) && entry.file !== undefined && entry.name === undefined && entry.patch === undefined) {
        this.keys(entry, [...path, i], ["file"]);
        return this.readFile(entry.file, [...path, i, "file"]);
      }
      return [this.object(entry, [...path, i])];
    });
  }

  private readFile(value: unknown, path: (string | number)[]): JsonObject[] {
    const file = resolve(this.dir, this.string(value, path));
    const cached = this.files.get(file);
    if (cached) return cached;
    try {
      const objects = readObjectsFile(file).map((p) => p.object);
      this.files.set(file, objects);
      return objects;
    } catch (err) {
      if (err instanceof ManifestError) this.fail(path, err.message);
      throw err;
    }
  }
}
