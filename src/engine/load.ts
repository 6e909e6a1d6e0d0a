import { createHash } from "node:crypto";
import { Ajv, type ErrorObject } from "ajv";
import schema from "../../policies/policy.schema.json" with { type: "json" };
import { CelCompileError, compileExpression, type CompiledExpression, type ParsedExpressionCache } from "./cel/compile.js";
import { fromCel, toCel } from "./cel/value.js";
import { jsonPath, PolicyLoadError, type PolicyProblem } from "./errors.js";
import type { CompiledPolicy, CompiledVariable, IndexDefinition, ParameterDeclaration, PolicySet } from "./policy-set.js";
import { kindKeyOf, type JsonObject, type KindKey, type LookupSpec, type PolicyDocument, type TargetSpec } from "./types.js";

export interface PolicySource {
  /** Where the text came from, for messages (a path, or "<inline>"). */
  file: string;
  text: string;
}

// Compiled once per process: validating a policy set runs the generated function only.
const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, strictTypes: false });
const validateDocument = ajv.compile<PolicyDocument>(schema);

export function targetKey(target: TargetSpec): KindKey {
  return kindKeyOf(target.apiVersion, target.kind);
}

/**
 * Parses, validates and compiles a policy set. Any problem in any file rejects the whole set, so a
 * caller that keeps serving the previous set on failure never serves half of a new one.
 */
export interface LoadOptions {
  /** Expressions parsed ahead of time; any expression not in it is parsed here. */
  parsed?: ParsedExpressionCache;
}

export function loadPolicySet(sources: readonly PolicySource[], options: LoadOptions = {}): PolicySet {
  const problems: PolicyProblem[] = [];
  const policies: CompiledPolicy[] = [];
  const parameters = new Map<string, ParameterDeclaration>();
  const indexes = new Map<string, IndexDefinition & { source: string; file: string }>();
  const targets = new Map<KindKey, TargetSpec>();
  const names = new Map<string, string>();
  const interned = new Map<string, CompiledExpression>();

  for (const source of [...sources].sort((a, b) => a.file.localeCompare(b.file))) {
    let json: unknown;
    try {
      json = JSON.parse(source.text);
    } catch (err) {
      problems.push({ file: source.file, path: "", message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    if (!validateDocument(json)) {
      problems.push({ file: source.file, ...describeSchemaError(validateDocument.errors?.[0]) });
      continue;
    }
    const doc = json;
    const previous = names.get(doc.metadata.name);
    if (previous !== undefined) {
      problems.push({ file: source.file, path: "metadata.name", message: `policy "${doc.metadata.name}" is already defined in ${previous}` });
      continue;
    }
    names.set(doc.metadata.name, source.file);
    const compiler = new DocumentCompiler(source.file, problems, interned, options.parsed);
    const policy = compiler.compile(doc);
    if (!policy) continue;
    policies.push(policy);
    mergeParameters(doc, source.file, parameters, problems);
    for (const target of collectTargets(doc)) {
      const key = targetKey(target);
      if (!targets.has(key)) targets.set(key, target);
    }
    for (const [i, spec] of (doc.spec.indexes ?? []).entries()) {
      const key = `${targetKey(spec.target)}#${spec.name}`;
      const existing = indexes.get(key);
      if (existing && existing.source !== spec.key) {
        problems.push({
          file: source.file,
          path: `spec.indexes[${i}].key`,
          message: `index "${spec.name}" on ${spec.target.kind} is defined differently in ${existing.file}`,
        });
        continue;
      }
      const expr = compiler.expression(spec.key, `spec.indexes[${i}].key`, new Set());
      if (!expr || existing) continue;
      indexes.set(key, { kind: targetKey(spec.target), name: spec.name, type: spec.type, keysOf: keyExtractor(expr), source: spec.key, file: source.file });
    }
  }
  for (const policy of policies) {
    for (const v of policy.variables) {
      if (v.type === "ipQuery" && !indexes.has(`${v.kind}#${v.index}`)) {
        problems.push({ file: policy.file, path: `spec.variables (${v.name})`, message: `no policy defines index "${v.index}" on ${v.kind}` });
      }
    }
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);

  const hash = createHash("sha256");
  for (const s of [...sources].sort((a, b) => a.file.localeCompare(b.file))) hash.update(s.file).update("\0").update(s.text).update("\0");
  return {
    policies,
    parameters,
    indexes: [...indexes.values()].map(({ kind, name, type, keysOf }) => ({ kind, name, type, keysOf })),
    targets,
    hash: hash.digest("hex").slice(0, 16),
  };
}

function describeSchemaError(err: ErrorObject | undefined): { path: string; message: string } {
  if (!err) return { path: "", message: "does not match the policy schema" };
  const path = jsonPath(err.instancePath);
  switch (err.keyword) {
    case "additionalProperties":
      return { path, message: `unknown field "${String(err.params.additionalProperty)}"` };
    case "required":
      return { path, message: `missing required field "${String(err.params.missingProperty)}"` };
    case "enum":
      return { path, message: `must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
    case "const":
      return { path, message: `must be ${JSON.stringify(err.params.allowedValue)}` };
    case "oneOf":
      return { path, message: "must have exactly one of the alternative fields (see the policy schema)" };
    default:
      return { path, message: err.message ?? "does not match the policy schema" };
  }
}

function keyExtractor(expr: CompiledExpression): (object: JsonObject) => string[] {
  return (object) => {
    const value = expr.evaluate({ object: toCel(object) });
    if (value instanceof Error) return [];
    const json = fromCel(value);
    if (typeof json === "string") return json ? [json] : [];
    return Array.isArray(json) ? json.filter((k): k is string => typeof k === "string" && k !== "") : [];
  };
}

function collectTargets(doc: PolicyDocument): TargetSpec[] {
  return [
    ...(doc.spec.indexes ?? []).map((i) => i.target),
    ...(doc.spec.variables ?? []).flatMap((v) => (v.lookup ? [v.lookup.target] : [])),
  ];
}

function mergeParameters(doc: PolicyDocument, file: string, into: Map<string, ParameterDeclaration>, problems: PolicyProblem[]): void {
  for (const [i, p] of (doc.spec.parameters ?? []).entries()) {
    const existing = into.get(p.name);
    if (!existing) {
      into.set(p.name, { ...p, declaredBy: [doc.metadata.name] });
    } else if (JSON.stringify(existing.default) !== JSON.stringify(p.default)) {
      problems.push({
        file,
        path: `spec.parameters[${i}].default`,
        message: `parameter "${p.name}" has default ${JSON.stringify(p.default)} here but ${JSON.stringify(existing.default)} in policy "${existing.declaredBy[0]}"`,
      });
    } else {
      existing.declaredBy.push(doc.metadata.name);
    }
  }
}

/** Compiles one document's expressions, recording every failure with its path. */
class DocumentCompiler {
  private failed = false;
  constructor(
    private readonly file: string,
    private readonly problems: PolicyProblem[],
    /** matchConditions by source, shared across the set so the evaluator can run each once per request. */
    private readonly conditions: Map<string, CompiledExpression>,
    private readonly parsed: ParsedExpressionCache | undefined,
  ) {}

  private condition(source: string, path: string): CompiledExpression | undefined {
    const known = this.conditions.get(source);
    if (known) return known;
    const expr = this.expression(source, path, new Set());
    if (expr) this.conditions.set(source, expr);
    return expr;
  }

  expression(source: string, path: string, variables: ReadonlySet<string>): CompiledExpression | undefined {
    try {
      return compileExpression(source, { variables, parsed: this.parsed });
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      this.failed = true;
      this.problems.push({ file: this.file, path, message: `${err.message} in ${JSON.stringify(source)}` });
      return undefined;
    }
  }

  compile(doc: PolicyDocument): CompiledPolicy | undefined {
    const spec = doc.spec;
    const declared = new Set<string>();
    const matchConditions = (spec.matchConditions ?? []).map((c, i) => ({
      name: c.name,
      expr: this.condition(c.expression, `spec.matchConditions[${i}].expression`),
    }));
    const variables: CompiledVariable[] = [];
    for (const [i, v] of (spec.variables ?? []).entries()) {
      const path = `spec.variables[${i}]`;
      if (declared.has(v.name)) {
        this.failed = true;
        this.problems.push({ file: this.file, path: `${path}.name`, message: `variable "${v.name}" is declared twice` });
        continue;
      }
      const compiled = v.lookup ? this.lookup(v.name, v.lookup, `${path}.lookup`, declared) : this.plain(v.name, v.expression ?? "", `${path}.expression`, declared);
      if (compiled) variables.push(compiled);
      declared.add(v.name);
    }
    const validations = spec.validations.map((v, i) => ({
      expr: this.expression(v.expression, `spec.validations[${i}].expression`, declared),
      messageExpr: v.messageExpression ? this.expression(v.messageExpression, `spec.validations[${i}].messageExpression`, declared) : undefined,
      action: v.action,
      message: v.message,
      reason: v.reason,
    }));
    if (this.failed) return undefined;
    return {
      name: doc.metadata.name,
      description: spec.description,
      file: this.file,
      failurePolicy: spec.failurePolicy ?? "Fail",
      rules: spec.match.resourceRules,
      namespaceSelector: spec.match.namespaceSelector,
      objectSelector: spec.match.objectSelector,
      matchConditions: matchConditions.map((c) => ({ name: c.name, expr: c.expr as CompiledExpression })),
      variables,
      validations: validations.map((v) => ({ ...v, expr: v.expr as CompiledExpression })),
    };
  }

  private plain(name: string, source: string, path: string, declared: ReadonlySet<string>): CompiledVariable | undefined {
    const expr = this.expression(source, path, declared);
    return expr && { name, type: "expression", expr };
  }

  private lookup(name: string, spec: LookupSpec, path: string, declared: ReadonlySet<string>): CompiledVariable | undefined {
    const kind = targetKey(spec.target);
    if (spec.get) {
      const objectName = this.expression(spec.get.name, `${path}.get.name`, declared);
      const namespace = spec.get.namespace ? this.expression(spec.get.namespace, `${path}.get.namespace`, declared) : undefined;
      const onMissing = spec.onMissing ?? "Null";
      const messageExpr =
        onMissing !== "Null" && onMissing.messageExpression ? this.expression(onMissing.messageExpression, `${path}.onMissing.messageExpression`, declared) : undefined;
      if (!objectName) return undefined;
      return { name, type: "get", kind, namespaced: spec.target.namespaced ?? false, objectName, namespace, onMissing: onMissing === "Null" ? onMissing : { ...onMissing, messageExpr } };
    }
    if (spec.list) return { name, type: "list", kind, limit: spec.list.limit };
    const q = spec.ipQuery as NonNullable<LookupSpec["ipQuery"]>;
    const within = q.within ? this.expression(q.within, `${path}.ipQuery.within`, declared) : undefined;
    const outside = q.outside ? this.expression(q.outside, `${path}.ipQuery.outside`, declared) : undefined;
    return { name, type: "ipQuery", kind, index: q.index, within, outside, limit: q.limit };
  }
}

export { PolicyLoadError };
