import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from "ajv";
import { compileSelfRule, groupVersionKind, isObject, jsonPath, kindKeyOf, type JsonObject, type JsonValue, type SelfRule } from "../engine/index.js";

export interface SchemaProblem {
  /** Field path as kubectl prints it: spec.cpu.cores */
  path: string;
  message: string;
}

/**
 * One compiled function per schema: it fills defaults into the (copied) object as it validates,
 * which is also the API server's order (default, then validate). Compiling is the expensive part
 * of a `check` start-up, so it happens once, not once to validate and once to default.
 */
type VersionSchema = ValidateFunction;

type Schema = { [key: string]: JsonValue };


/**
 * Validates objects against CustomResourceDefinitions' openAPIV3Schema the way the API server
 * does: structural types, enums and patterns, `nullable`, int-or-string, unknown fields (as
 * kubectl's strict field validation reports them), defaults, and `x-kubernetes-validations` CEL
 * rules evaluated with the same CEL library as policies.
 */
export class CrdSchemas {
  private readonly versions = new Map<string, VersionSchema>();
  /** The openAPIV3Schema as written, by the same key: nulls are pruned by its `nullable`. */
  private readonly structural = new Map<string, Schema>();
  private readonly kinds = new Set<string>();
  private readonly clusterScoped = new Set<string>();
  private readonly moduleSettings = new Map<string, VersionSchema>();
  private readonly ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, useDefaults: true });

  constructor(crds: readonly JsonObject[]) {
    const { ajv } = this;
    addKubernetesKeywords(ajv);
    for (const crd of crds) {
      if (crd.kind !== "CustomResourceDefinition") continue;
      const spec = crd.spec as Schema;
      const names = spec.names as Schema;
      for (const v of (spec.versions as Schema[]) ?? []) {
        const schema = (v.schema as Schema | undefined)?.openAPIV3Schema;
        if (!isObject(schema)) continue;
        const key = `${String(spec.group)}/${String(v.name)}/${String(names.kind)}`;
        this.kinds.add(`${String(spec.group)}/${String(names.kind)}`);
        if (spec.scope === "Cluster") this.clusterScoped.add(`${String(spec.group)}/${String(names.kind)}`);
        this.structural.set(key, schema);
        this.versions.set(key, ajv.compile(convert(schema, true, true) as AnySchema));
      }
    }
  }

  /**
   * Deckhouse's ModuleConfig keeps `spec.settings` free-form; each module publishes the schema of
   * its settings (`openapi/config-values.yaml`). Registering it validates ModuleConfig `name`'s settings.
   */
  addModuleSettingsSchema(moduleName: string, schema: JsonObject): void {
    this.moduleSettings.set(moduleName, this.ajv.compile(convert(schema, false, true) as AnySchema));
  }

  private settingsSchema(object: JsonObject): VersionSchema | undefined {
    if (object.kind !== "ModuleConfig" || !String(object.apiVersion).startsWith("deckhouse.io/")) return undefined;
    const name = (object.metadata as { name?: unknown } | undefined)?.name;
    return typeof name === "string" ? this.moduleSettings.get(name) : undefined;
  }

  private key(object: JsonObject): string {
    const { group, version, kind } = groupVersionKind(object);
    return `${group}/${version}/${kind}`;
  }

  private lookup(object: JsonObject): VersionSchema | undefined {
    return this.versions.get(this.key(object));
  }

  /** Whether a CRD makes this object's kind cluster-scoped. */
  isClusterScoped(object: JsonObject): boolean {
    return this.clusterScoped.has(kindKeyOf(String(object.apiVersion ?? ""), String(object.kind)));
  }

  /**
   * A copy without the nulls the schema does not allow (no `nullable: true`), as the API server
   * drops them before defaulting: `settings:` left empty, or a Helm value rendered as null, is
   * then absent (or defaulted) rather than "must be object".
   */
  pruneNulls(object: JsonObject): JsonObject {
    const schema = this.structural.get(this.key(object));
    if (!schema) return object;
    const copy = structuredClone(object);
    pruneNulls(copy, schema);
    // ObjectMeta is the API server's own: a null label or annotation map is no map at all.
    if (isObject(copy.metadata)) for (const [k, v] of Object.entries(copy.metadata)) if (v === null) delete copy.metadata[k];
    return copy;
  }

  /** Whether a CRD describes this object's group and kind (at any version). */
  knows(object: JsonObject): boolean {
    return this.kinds.has(kindKeyOf(String(object.apiVersion ?? ""), String(object.kind)));
  }

  /**
   * Problems with the object, or undefined when no CRD covers its group and kind. A known kind at
   * a version no CRD serves is itself a problem.
   */
  validate(object: JsonObject): SchemaProblem[] | undefined {
    const schema = this.lookup(object);
    if (!schema) {
      return this.knows(object) ? [{ path: "apiVersion", message: `no CRD serves ${String(object.kind)} at ${String(object.apiVersion)}` }] : undefined;
    }
    const copy = structuredClone(object);
    const problems = describeErrors(schema(copy) ? [] : (schema.errors ?? []), "");
    const settings = this.settingsSchema(copy);
    const value = (copy.spec as { settings?: unknown } | undefined)?.settings;
    if (settings && value !== undefined && !settings(value)) problems.push(...describeErrors(settings.errors ?? [], "spec.settings"));
    return problems;
  }

  /** A copy of the object with the schema's defaults filled in, as the API server stores it. */
  withDefaults(object: JsonObject): JsonObject {
    const copy = structuredClone(object);
    this.lookup(copy)?.(copy);
    const settings = (copy.spec as { settings?: unknown } | undefined)?.settings;
    if (settings !== undefined) this.settingsSchema(copy)?.(settings);
    return copy;
  }
}

function pruneNulls(value: JsonValue, schema: Schema): void {
  if (Array.isArray(value)) {
    if (isObject(schema.items)) for (const item of value) pruneNulls(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  const properties = isObject(schema.properties) ? schema.properties : undefined;
  const additional = isObject(schema.additionalProperties) ? schema.additionalProperties : undefined;
  for (const [key, child] of Object.entries(value)) {
    const childSchema = properties?.[key] ?? additional;
    if (!isObject(childSchema)) continue;
    if (child === null && childSchema.nullable !== true) delete value[key];
    else pruneNulls(child, childSchema);
  }
}

function describeErrors(errors: readonly ErrorObject[], prefix: string): SchemaProblem[] {
    const problems: SchemaProblem[] = [];
    const seen = new Set<string>();
    for (const e of errors) {
      if (e.keyword === "if" || e.keyword === "anyOf" || e.keyword === "oneOf") continue;
      let path = jsonPath(e.instancePath);
      let message = e.message ?? "is invalid";
      if (e.keyword === "additionalProperties") {
        path = path ? `${path}.${String(e.params.additionalProperty)}` : String(e.params.additionalProperty);
        message = "unknown field";
      } else if (e.keyword === "required") {
        path = path ? `${path}.${String(e.params.missingProperty)}` : String(e.params.missingProperty);
        message = "Required value";
      } else if (e.keyword === "enum") {
        message = `Unsupported value: supported values: ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
      } else if (e.keyword === "x-kubernetes-validations") {
        message = String(e.message);
      }
      if (prefix) path = path ? `${prefix}.${path}` : prefix;
      const key = `${path}\0${message}`;
      if (!seen.has(key)) problems.push({ path, message });
      seen.add(key);
    }
    return problems;
}

const ruleCache = new Map<string, SelfRule | Error>();

function addKubernetesKeywords(ajv: Ajv): void {
  for (const keyword of ["x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-embedded-resource", "x-doc-examples", "x-doc-default", "x-doc-required", "x-doc-deprecated", "x-kubernetes-int-or-string", "x-examples", "x-doc-example"]) {
    ajv.addKeyword({ keyword });
  }
  ajv.addKeyword({
    keyword: "x-kubernetes-validations",
    schemaType: "array",
    errors: true,
    validate: function celRules(this: unknown, rules: { rule: string; message?: string; messageExpression?: string }[], data: unknown): boolean {
      const failures: { keyword: string; message: string; params: Record<string, unknown> }[] = [];
      for (const r of rules) {
        // Transition rules need the stored object; a manifest alone cannot be judged by them.
        if (/\boldSelf\b/.test(r.rule)) continue;
        let compiled = ruleCache.get(r.rule);
        if (!compiled) {
          try {
            compiled = compileSelfRule(r.rule);
          } catch (err) {
            compiled = err as Error;
          }
          ruleCache.set(r.rule, compiled);
        }
        if (compiled instanceof Error) continue;
        const result = compiled(data as JsonValue);
        if (result !== true) {
          failures.push({
            keyword: "x-kubernetes-validations",
            message: result instanceof Error ? `rule ${JSON.stringify(r.rule)} could not be evaluated: ${result.message}` : (r.message ?? `failed rule: ${r.rule}`),
            params: { rule: r.rule },
          });
        }
      }
      (celRules as unknown as { errors: unknown[] }).errors = failures;
      return failures.length === 0;
    },
  });
}

/** openAPIV3Schema (structural) to the JSON Schema ajv reads. */
/**
 * The API server matches `pattern` with Go's RE2, which also spells named groups `(?P<name>...)`
 * (virtualmachinepools.yaml's image references do); JavaScript knows only `(?<name>...)`, and one
 * such pattern would otherwise fail the whole CRD's compilation.
 */
function jsPattern(pattern: string): string {
  return pattern.replace(/(^|[^\\])\(\?P</g, "$1(?<");
}

function convert(schema: Schema, root: boolean, keepDefaults = false): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === "format" || k === "description" || k === "example" || (k === "default" && !keepDefaults)) continue;
    if (k === "properties" && isObject(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, convert(s as Schema, false, keepDefaults)]));
    } else if ((k === "items" || k === "additionalProperties" || k === "not") && isObject(v)) {
      out[k] = convert(v, false, keepDefaults);
    } else if (k === "pattern" && typeof v === "string") {
      out.pattern = jsPattern(v);
    } else if ((k === "allOf" || k === "anyOf" || k === "oneOf") && Array.isArray(v)) {
      // Structural schemas use these only to add value validations, never to declare fields.
      out[k] = v.map((s) => convert(s as Schema, false, keepDefaults));
    } else {
      out[k] = v;
    }
  }
  if (schema["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.anyOf = [...((out.anyOf as Schema[] | undefined) ?? []), { type: "integer" }, { type: "string" }];
  }
  delete out.nullable;
  if (schema.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  const closed = out.type === "object" && isObject(out.properties) && schema.additionalProperties === undefined && schema["x-kubernetes-preserve-unknown-fields"] !== true;
  if (closed) out.additionalProperties = false;
  if (root && isObject(out.properties)) {
    // metadata is ObjectMeta, validated by the API server itself rather than the CRD.
    out.properties = { ...out.properties, apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" } };
  }
  return out;
}
