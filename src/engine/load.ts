import { createHash } from "node:crypto";
import type { ErrorObject } from "ajv";
import { parse } from "@bufbuild/cel";
import type { ParsedExpr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import {
  CelCompileError,
  codeKey,
  compileExpression,
  ROOT_VARIABLES,
  type CelEngine,
  type CompiledExpression,
  type GeneratedCodeCache,
  type ParsedExpressionCache,
} from "./cel/compile.js";
import { documentValidator } from "./document-schema.js";
import { jsonPath, PolicyLoadError, type PolicyProblem } from "./errors.js";
import { namedObjects } from "./named-objects.js";
import type { CompiledPolicy, CompiledVariable, IndexDefinition, LookupTarget, ParameterDeclaration, PolicySet } from "./policy-set.js";
import { TypeCheckError } from "./typecheck/checker.js";
import { estimateCost, EXPRESSION_COST_LIMIT, UNBOUNDED_ITEMS } from "./typecheck/cost.js";
import { KindTypes, rootTypes, typeChecker, withVariable } from "./typecheck/environment.js";
import type { KindSchema } from "./typecheck/schema.js";
import { BOOL, describeType, DYN, isDyn, list, STRING, type CheckType } from "./typecheck/types.js";
import { kindKeyOf, type JsonObject, type KindKey, type LookupSpec, type PolicyDocument, type TargetSpec } from "./types.js";

/** What an indexQuery's anyOf sees: the policy's names, and the object under test as `item`. */
const ITEM_ROOTS = [...ROOT_VARIABLES, "item"];

export interface PolicySource {
  /** Where the text came from, for messages (a path, or "<inline>"). */
  file: string;
  text: string;
}

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
  /**
   * The schemas of the kinds policies match and look up (from their CRDs). Expressions are type
   * checked against them: a field no schema declares is a load error. Kinds without one are dyn.
   */
  schemas?: readonly KindSchema[];
  /** The compiler (default) or the interpreter, for differential tests and debugging. */
  engine?: CelEngine;
  /**
   * Generated code of earlier loads, and where this load's goes. Read only when `verified`;
   * written (through `set`) for every expression compiled.
   */
  code?: GeneratedCodeCache;
  /**
   * The caller knows that exactly these sources, with these schemas, loaded without a problem
   * with this build of virtguard (it keys what it keeps by all three): expressions whose code
   * `code` holds are neither parsed, nor type checked, nor compiled again.
   */
  verified?: boolean;
}

type DefinedIndex = IndexDefinition & { source: string; file: string };

interface ReadDocument {
  source: PolicySource;
  doc: PolicyDocument;
}

export function loadPolicySet(sources: readonly PolicySource[], options: LoadOptions = {}): PolicySet {
  const problems: PolicyProblem[] = [];
  const { documents, parameters } = readDocuments(sources, options, problems);
  const { policies, indexes, targets } = compileDocuments(documents, parameters, options, problems);
  checkIndexQueries(policies, indexes, problems);
  if (problems.length > 0) throw new PolicyLoadError(problems);
  for (const [kind, only] of namedObjects(documents.map((d) => d.doc), options.parsed)) {
    const target = targets.get(kind);
    if (target && only) targets.set(kind, { ...target, only });
  }
  return {
    policies,
    parameters,
    indexes: [...indexes.values()].map(({ kind, name, type, keysOf }) => ({ kind, name, type, keysOf })),
    targets,
    hash: hashPolicySources(sources).slice(0, 16),
  };
}

/**
 * Parses and schema-validates every source, in file order, keeping the documents with a name of
 * their own. Parameters are set-wide, so every document's are merged before any expression is checked.
 */
function readDocuments(sources: readonly PolicySource[], options: LoadOptions, problems: PolicyProblem[]): { documents: ReadDocument[]; parameters: Map<string, ParameterDeclaration> } {
  const documents: ReadDocument[] = [];
  const parameters = new Map<string, ParameterDeclaration>();
  const names = new Map<string, string>();
  // A verified set's documents matched the schema when it was stored (and loading the validator costs).
  const validateDocument = options.verified ? undefined : documentValidator();
  for (const source of [...sources].sort(byFile)) {
    let json: unknown;
    try {
      json = JSON.parse(source.text);
    } catch (err) {
      problems.push({ file: source.file, path: "", message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    if (validateDocument && !validateDocument(json)) {
      problems.push({ file: source.file, ...describeSchemaError(validateDocument.errors?.[0]) });
      continue;
    }
    const doc = json as PolicyDocument;
    const previous = names.get(doc.metadata.name);
    if (previous !== undefined) {
      problems.push({ file: source.file, path: "metadata.name", message: `policy "${doc.metadata.name}" is already defined in ${previous}` });
      continue;
    }
    names.set(doc.metadata.name, source.file);
    mergeParameters(doc, source.file, parameters, problems);
    documents.push({ source, doc });
  }
  return { documents, parameters };
}

/** Compiles every document, collecting the kinds its lookups and indexes target and the indexes it defines. */
function compileDocuments(
  documents: readonly ReadDocument[],
  parameters: Map<string, ParameterDeclaration>,
  options: LoadOptions,
  problems: PolicyProblem[],
): { policies: CompiledPolicy[]; indexes: Map<string, DefinedIndex>; targets: Map<KindKey, LookupTarget> } {
  const policies: CompiledPolicy[] = [];
  const indexes = new Map<string, DefinedIndex>();
  const targets = new Map<KindKey, LookupTarget>();
  const interned = new Map<string, CompiledExpression>();
  const kinds = new KindTypes(options.schemas ?? []);
  for (const { source, doc } of documents) {
    const compiler = new DocumentCompiler(source.file, problems, interned, options, kinds, rootTypes(kinds.matched(doc), [...parameters.values()]));
    const policy = compiler.compile(doc);
    if (!policy) continue;
    policies.push(policy);
    for (const target of collectTargets(doc)) {
      const key = targetKey(target);
      if (!targets.has(key)) targets.set(key, target);
    }
    defineIndexes(doc, source.file, compiler, kinds, indexes, problems);
  }
  return { policies, indexes, targets };
}

/** Adds a document's indexes; one defined again must be defined alike (same key expression and type). */
function defineIndexes(doc: PolicyDocument, file: string, compiler: DocumentCompiler, kinds: KindTypes, indexes: Map<string, DefinedIndex>, problems: PolicyProblem[]): void {
  for (const [i, spec] of (doc.spec.indexes ?? []).entries()) {
    const key = `${targetKey(spec.target)}#${spec.name}`;
    const existing = indexes.get(key);
    if (existing && (existing.source !== spec.key || existing.type !== spec.type)) {
      problems.push({ file, path: `spec.indexes[${i}].key`, message: `index "${spec.name}" on ${spec.target.kind} is defined differently in ${existing.file}` });
      continue;
    }
    const expr = compiler.indexKey(spec.key, `spec.indexes[${i}].key`, kinds.of(spec.target));
    if (!expr || existing) continue;
    indexes.set(key, { kind: targetKey(spec.target), name: spec.name, type: spec.type, keysOf: keyExtractor(expr), source: spec.key, file });
  }
}

/** Every ipQuery and indexQuery names an index some policy defines, of the type the query needs. */
function checkIndexQueries(policies: readonly CompiledPolicy[], indexes: ReadonlyMap<string, DefinedIndex>, problems: PolicyProblem[]): void {
  for (const policy of policies) {
    for (const v of policy.variables) {
      if (v.type !== "ipQuery" && v.type !== "indexQuery") continue;
      const index = indexes.get(`${v.kind}#${v.index}`);
      const wanted = v.type === "ipQuery" ? "ip" : "field";
      if (!index) {
        problems.push({ file: policy.file, path: `spec.variables (${v.name})`, message: `no policy defines index "${v.index}" on ${v.kind}` });
      } else if (index.type !== wanted) {
        problems.push({ file: policy.file, path: `spec.variables (${v.name})`, message: `${v.type} needs an index of type "${wanted}", but index "${v.index}" on ${v.kind} is of type "${index.type}"` });
      }
    }
  }
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
    const json = expr.evaluate({ object });
    if (json instanceof Error) return [];
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
      if (p.assumed) existing.assumed = true;
    }
  }
}

/** Compiles one document's expressions, recording every failure with its path. */
class DocumentCompiler {
  private failed = false;
  private readonly parsed: ParsedExpressionCache | undefined;
  private readonly engine: CelEngine | undefined;
  /** Stored code to use as is (a verified set), or undefined. */
  private readonly stored: GeneratedCodeCache | undefined;
  /** Where compiled code goes. */
  private readonly recorder: GeneratedCodeCache | undefined;
  constructor(
    private readonly file: string,
    private readonly problems: PolicyProblem[],
    /** matchConditions by source, shared across the set so the evaluator can run each once per request. */
    private readonly conditions: Map<string, CompiledExpression>,
    options: LoadOptions,
    private readonly kinds: KindTypes,
    /** The types of the roots (object, params, variables so far, ...) in this document. */
    private readonly scope: Map<string, CheckType>,
  ) {
    this.parsed = options.parsed;
    this.engine = options.engine;
    const code = options.code;
    this.stored = options.verified ? code : undefined;
    this.recorder = code?.set && { get: () => undefined, set: (key, c) => code.set?.(key, c) };
  }

  private condition(source: string, path: string): CompiledExpression | undefined {
    const known = this.conditions.get(source);
    // Shared across policies, but each policy's object type may differ: check it here too.
    if (known) return this.stored ? known : this.typeOf(known.source, path, BOOL) && known;
    const expr = this.expression(source, path, new Set(), BOOL);
    if (expr) this.conditions.set(source, expr);
    return expr;
  }

  /** Compiles an expression and checks its type against the schemas; `expected` is what its result must be. */
  expression(source: string, path: string, variables: ReadonlySet<string>, expected: CheckType = DYN, roots?: readonly string[]): CompiledExpression | undefined {
    if (this.stored?.get(codeKey(source, roots))) return compileExpression(source, { code: this.stored, roots, engine: this.engine });
    const parsed = this.parse(source);
    // Checked before compiling, which rewrites the tree; compile errors, the plainer ones, win.
    const checked = this.check(parsed, source, expected);
    let compiled: CompiledExpression;
    try {
      compiled = compileExpression(source, { variables, parsed: parsed && { get: () => parsed }, roots, engine: this.engine, code: this.recorder });
    } catch (err) {
      if (!(err instanceof CelCompileError)) throw err;
      return this.fail(path, `${err.message} in ${JSON.stringify(source)}`);
    }
    if (typeof checked === "string") return this.fail(path, checked);
    this.lastType = checked;
    return compiled;
  }

  /** An index's key expression, where `object` is an object of the indexed kind. */
  indexKey(source: string, path: string, object: CheckType): CompiledExpression | undefined {
    const policyObject = this.scope.get("object") ?? DYN;
    this.scope.set("object", object);
    try {
      return this.expression(source, path, new Set());
    } finally {
      this.scope.set("object", policyObject);
    }
  }

  /** An indexQuery's anyOf test, where `item` is an object of the queried kind. */
  itemTest(source: string, path: string, variables: ReadonlySet<string>, item: CheckType): CompiledExpression | undefined {
    this.scope.set("item", item);
    try {
      return this.expression(source, path, variables, BOOL, ITEM_ROOTS);
    } finally {
      this.scope.delete("item");
    }
  }

  /** The type of the expression compiled last, for the variable it defines. */
  private lastType: CheckType = DYN;

  private typeOf(source: string, path: string, expected: CheckType): CheckType | undefined {
    const checked = this.check(this.parse(source), source, expected);
    return typeof checked === "string" ? this.fail(path, checked) : checked;
  }

  /** The expression's type, or the problem with it. */
  private check(parsed: ParsedExpr | undefined, source: string, expected: CheckType): CheckType | string {
    if (!parsed?.expr) return DYN;
    try {
      const { type: t, types } = typeChecker.checkAll(parsed.expr, this.scope);
      if (!isDyn(expected) && !isDyn(t) && describeType(t) !== describeType(expected)) {
        return `must evaluate to ${describeType(expected)}, but ${JSON.stringify(source)} has type ${describeType(t)}`;
      }
      const cost = estimateCost(parsed.expr, types);
      if (cost > EXPRESSION_COST_LIMIT) {
        return `estimated cost ${Math.round(cost)} exceeds the limit of ${EXPRESSION_COST_LIMIT} per expression (a list without maxItems counts as ${UNBOUNDED_ITEMS} items): iterate over fewer items, or not over one list per item of another, in ${JSON.stringify(source)}`;
      }
      return t;
    } catch (err) {
      if (!(err instanceof TypeCheckError)) throw err;
      return `${err.message} in ${JSON.stringify(source)}`;
    }
  }

  /** A fresh tree (compilation rewrites the one it gets); undefined on a syntax error, which compilation reports. */
  private parse(source: string): ParsedExpr | undefined {
    const cached = this.parsed?.get(source);
    if (cached) return cached;
    try {
      return parse(source);
    } catch {
      return undefined;
    }
  }

  private fail(path: string, message: string): undefined {
    this.failed = true;
    this.problems.push({ file: this.file, path, message });
    return undefined;
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
      withVariable(this.scope, v.name, !compiled ? DYN : v.lookup ? this.lookupType(v.lookup) : this.lastType);
    }
    const validations = spec.validations.map((v, i) => ({
      expr: this.expression(v.expression, `spec.validations[${i}].expression`, declared, BOOL),
      messageExpr: v.messageExpression ? this.expression(v.messageExpression, `spec.validations[${i}].messageExpression`, declared, STRING) : undefined,
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
      ...(spec.judgeEmbedded ? { judgeEmbedded: spec.judgeEmbedded } : {}),
    };
  }

  private plain(name: string, source: string, path: string, declared: ReadonlySet<string>): CompiledVariable | undefined {
    const expr = this.expression(source, path, declared);
    return expr && { name, type: "expression", expr };
  }

  private lookup(name: string, spec: LookupSpec, path: string, declared: ReadonlySet<string>): CompiledVariable | undefined {
    const kind = targetKey(spec.target);
    if (spec.get) {
      const objectName = this.expression(spec.get.name, `${path}.get.name`, declared, STRING);
      const namespace = spec.get.namespace ? this.expression(spec.get.namespace, `${path}.get.namespace`, declared, STRING) : undefined;
      const onMissing = spec.onMissing ?? "Null";
      const messageExpr =
        onMissing !== "Null" && onMissing.messageExpression ? this.expression(onMissing.messageExpression, `${path}.onMissing.messageExpression`, declared, STRING) : undefined;
      if (!objectName) return undefined;
      return { name, type: "get", kind, namespaced: spec.target.namespaced ?? false, objectName, namespace, onMissing: onMissing === "Null" ? onMissing : { ...onMissing, messageExpr } };
    }
    if (spec.list) return { name, type: "list", kind, limit: spec.list.limit };
    if (spec.indexQuery) {
      const key = this.expression(spec.indexQuery.key, `${path}.indexQuery.key`, declared);
      const item = this.kinds.of(spec.target);
      const anyOf = spec.indexQuery.anyOf?.map((source, i) => this.itemTest(source, `${path}.indexQuery.anyOf[${i}]`, declared, item));
      if (!key || anyOf?.some((e) => !e)) return undefined;
      return { name, type: "indexQuery", kind, index: spec.indexQuery.index, key, anyOf: anyOf as CompiledExpression[] | undefined, limit: spec.indexQuery.limit };
    }
    const q = spec.ipQuery as NonNullable<LookupSpec["ipQuery"]>;
    const within = q.within ? this.expression(q.within, `${path}.ipQuery.within`, declared) : undefined;
    const outside = q.outside ? this.expression(q.outside, `${path}.ipQuery.outside`, declared) : undefined;
    return { name, type: "ipQuery", kind, index: q.index, within, outside, limit: q.limit };
  }

  private lookupType(spec: LookupSpec): CheckType {
    const t = this.kinds.of(spec.target);
    return spec.get ? t : list(t, spec.list?.limit ?? spec.ipQuery?.limit);
  }
}

export { PolicyLoadError };

/**
 * Files in code-unit order: the same on every machine, and without localeCompare, whose first
 * call loads ICU's collation (tens of milliseconds of every start-up).
 */
function byFile(a: PolicySource, b: PolicySource): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}

const hashes = new WeakMap<readonly PolicySource[], string>();

/** SHA-256 (hex) of a policy set's files, names and texts, in file order: what a set was built from. */
export function hashPolicySources(sources: readonly PolicySource[]): string {
  let digest = hashes.get(sources);
  if (digest === undefined) {
    const hash = createHash("sha256");
    for (const s of [...sources].sort(byFile)) hash.update(s.file).update("\0").update(s.text).update("\0");
    hashes.set(sources, (digest = hash.digest("hex")));
  }
  return digest;
}
