import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import { cloneJson, groupVersionKind, isObject, jsonPath, type JsonObject, type JsonValue } from "../engine/index.js";
import { fieldSchemaKey, type FieldSchema } from "./crd-dir.js";

// The schema compiler (ajv and its code generation) loads only when something must compile:
// precompiled validators (crd-precompiled.ts) need none of it.
const require = createRequire(import.meta.url);
function compiler(): typeof import("./crd-compile.js") {
  // Spelled from src/ down, so that it holds from the bundle (dist/src/bundle/) as well.
  return require("../schema/crd-compile.js") as typeof import("./crd-compile.js");
}

export interface SchemaProblem {
  /** Field path as kubectl prints it: spec.cpu.cores */
  path: string;
  message: string;
}

/**
 * One compiled function per schema: it fills defaults into the (copied) object as it validates,
 * which is also the API server's order (default, then validate). Compiling is the expensive part
 * of a `check` start-up, so it happens once (or at build time, see crd-precompiled.ts), not once
 * to validate and once to default.
 */
export type VersionSchema = ValidateFunction;

/** What the API server makes of a manifest before admission: its problems and the defaulted copy. */
export interface Admitted {
  problems: SchemaProblem[];
  object: JsonObject;
}

type Schema = { [key: string]: JsonValue };

/** A field schema's validator and the dotted path of the field it validates. */
export interface FieldValidator {
  field: string;
  validate: VersionSchema;
}


/**
 * Compiled validators by "group/version/Kind", the kinds ("group/Kind") they belong to and those
 * that are cluster-scoped, field schema validators by "group/Kind/name" (see crd-dir.ts), and the
 * openAPIV3Schema as written by "group/version/Kind" (nulls are pruned by its `nullable`).
 */
export interface CompiledCrds {
  versions: Map<string, VersionSchema>;
  kinds: Set<string>;
  clusterScoped: Set<string>;
  fieldSchemas: Map<string, FieldValidator>;
  structural: { get(key: string): Schema | undefined; set(key: string, schema: Schema): unknown };
}

/**
 * Validates objects against CustomResourceDefinitions' openAPIV3Schema the way the API server
 * does: structural types, enums and patterns, `nullable`, int-or-string, unknown fields (as
 * kubectl's strict field validation reports them), defaults, and `x-kubernetes-validations` CEL
 * rules evaluated with the same CEL library as policies.
 */
export class CrdSchemas {
  private readonly versions: Map<string, VersionSchema>;
  private readonly kinds: Set<string>;
  private readonly clusterScoped: Set<string>;
  private readonly fieldSchemas: Map<string, FieldValidator>;
  private readonly structural: CompiledCrds["structural"];
  private ajvInstance: import("ajv").Ajv | undefined;

  constructor(crds: readonly JsonObject[], compiled?: CompiledCrds) {
    this.versions = compiled?.versions ?? new Map();
    this.kinds = compiled?.kinds ?? new Set();
    this.fieldSchemas = compiled?.fieldSchemas ?? new Map();
    this.clusterScoped = compiled?.clusterScoped ?? new Set();
    this.structural = compiled?.structural ?? new Map();
    for (const crd of crds) {
      for (const { key, kind, schema, written, cluster } of compiler().crdVersionSchemas(crd)) {
        this.kinds.add(kind);
        if (cluster) this.clusterScoped.add(kind);
        this.structural.set(key, written);
        this.versions.set(key, this.ajv.compile(schema));
      }
    }
  }

  /** Validators compiled ahead of time (see crd-precompiled.ts): nothing is compiled here. */
  static precompiled(compiled: CompiledCrds): CrdSchemas {
    return new CrdSchemas([], compiled);
  }

  private get ajv(): import("ajv").Ajv {
    return (this.ajvInstance ??= compiler().crdAjv());
  }

  /** Validates (and defaults) one free-form field of the objects of a group, kind and name. */
  addFieldSchema(spec: FieldSchema, schema: JsonObject): void {
    this.fieldSchemas.set(fieldSchemaKey(spec.group, spec.kind, spec.name), { field: spec.field, validate: this.ajv.compile(compiler().fieldSchema(schema)) });
  }

  private fieldSchemaOf(object: JsonObject): FieldValidator | undefined {
    if (this.fieldSchemas.size === 0) return undefined;
    const name = (object.metadata as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string") return undefined;
    const { group, kind } = groupVersionKind(object);
    return this.fieldSchemas.get(fieldSchemaKey(group, kind, name));
  }

  /** "group/version/Kind", as versions are keyed. */
  private key(object: JsonObject): string {
    const { group, version, kind } = groupVersionKind(object);
    return `${group}/${version}/${kind}`;
  }

  /** "group/Kind", as kinds are keyed. */
  private kindKey(object: JsonObject): string {
    const { group, kind } = groupVersionKind(object);
    return `${group}/${kind}`;
  }

  private lookup(object: JsonObject): VersionSchema | undefined {
    return this.versions.get(this.key(object));
  }

  /** Whether a CRD makes this object's kind cluster-scoped. */
  isClusterScoped(object: JsonObject): boolean {
    return this.clusterScoped.has(this.kindKey(object));
  }

  /**
   * A copy without the nulls the schema does not allow (no `nullable: true`), as the API server
   * drops them before defaulting: `settings:` left empty, or a Helm value rendered as null, is
   * then absent (or defaulted) rather than "must be object". `inPlace` prunes the object itself,
   * for a caller that owns it.
   */
  pruneNulls(object: JsonObject, inPlace = false): JsonObject {
    const schema = this.structural.get(this.key(object));
    if (!schema) return object;
    const copy = inPlace ? object : cloneJson(object);
    pruneNulls(copy, schema);
    // ObjectMeta is the API server's own: a null label or annotation map is no map at all.
    if (isObject(copy.metadata)) for (const [k, v] of Object.entries(copy.metadata)) if (v === null) delete copy.metadata[k];
    return copy;
  }

  /** Whether a CRD describes this object's group and kind (at any version). */
  knows(object: JsonObject): boolean {
    return this.kinds.has(this.kindKey(object));
  }

  /**
   * Validation and defaults in one walk over one copy: the problems (none when the object is
   * valid) and the object as the API server would store it. Undefined when no CRD covers the
   * object's group and kind. A known kind at a version no CRD serves is itself a problem.
   * `inPlace` fills the defaults into the object itself, for a caller that owns it (a freshly
   * parsed manifest): copying a large tree costs as much as validating it.
   */
  admit(object: JsonObject, inPlace = false): Admitted | undefined {
    const schema = this.lookup(object);
    if (!schema) {
      return this.knows(object) ? { problems: [{ path: "apiVersion", message: `no CRD serves ${String(object.kind)} at ${String(object.apiVersion)}` }], object } : undefined;
    }
    const copy = inPlace ? object : cloneJson(object);
    const problems = schema(copy) ? [] : describeErrors(schema.errors ?? [], "");
    const field = this.fieldSchemaOf(copy);
    const value = field && fieldValue(copy, field.field);
    if (field && value !== undefined && !field.validate(value)) problems.push(...describeErrors(field.validate.errors ?? [], field.field));
    return { problems, object: copy };
  }

  /**
   * Problems with the object, or undefined when no CRD covers its group and kind. A known kind at
   * a version no CRD serves is itself a problem.
   */
  validate(object: JsonObject): SchemaProblem[] | undefined {
    return this.admit(object)?.problems;
  }

  /** A copy of the object with the schema's defaults filled in, as the API server stores it. */
  withDefaults(object: JsonObject): JsonObject {
    return this.admit(object)?.object ?? cloneJson(object);
  }
}

/** The value at a dotted path of an object, or undefined. */
function fieldValue(object: JsonObject, path: string): JsonValue | undefined {
  let value: JsonValue | undefined = object;
  for (const key of path.split(".")) value = isObject(value) ? value[key] : undefined;
  return value;
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

