import { createRequire } from "node:module";
import { _, Ajv, Name, stringify, type AnySchema, type KeywordCxt } from "ajv";
import { isObject, type JsonObject, type JsonValue } from "../engine/index.js";
import { CEL_RULES, celRules, type CelRule } from "./crd-rules.js";

// ajv's code generation helpers for keywords that report their own errors; not in its main exports.
const require = createRequire(import.meta.url);
const N = (require("ajv/dist/compile/names") as { default: { vErrors: Name; errors: Name } }).default;
const { extendErrors } = require("ajv/dist/compile/errors") as { extendErrors: (cxt: KeywordCxt) => void };

type Schema = { [key: string]: JsonValue };

/** The ajv instance CRD schemas compile with; `source` keeps the generated code, for standalone modules. */
export function crdAjv(source = false): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, useDefaults: true, code: { source } });
  addKubernetesKeywords(ajv);
  return ajv;
}

/** The schema ajv compiles for each served version of a CRD, by "group/version/Kind". */
export function crdVersionSchemas(crd: JsonObject): { key: string; kind: string; schema: AnySchema; written: Schema; cluster: boolean }[] {
  if (crd.kind !== "CustomResourceDefinition" || !isObject(crd.spec)) return [];
  const spec = crd.spec;
  const names = isObject(spec.names) ? spec.names : {};
  const out: { key: string; kind: string; schema: AnySchema; written: Schema; cluster: boolean }[] = [];
  for (const v of Array.isArray(spec.versions) ? spec.versions.filter(isObject) : []) {
    const schema = (v.schema as Schema | undefined)?.openAPIV3Schema;
    if (!isObject(schema)) continue;
    out.push({ key: `${String(spec.group)}/${String(v.name)}/${String(names.kind)}`, kind: `${String(spec.group)}/${String(names.kind)}`, schema: convert(schema, true, true) as AnySchema, written: schema, cluster: spec.scope === "Cluster" });
  }
  return out;
}

/** The schema ajv compiles for a free-form field (see FieldSchema in crd-dir.ts). */
export function fieldSchema(schema: JsonObject): AnySchema {
  return convert(schema, false, true) as AnySchema;
}

/** Annotation-only keywords: dropped before compiling so generated code does not carry them. */
const ANNOTATIONS = new Set(["format", "description", "example", "x-doc-examples", "x-doc-default", "x-doc-required", "x-doc-deprecated", "x-examples", "x-doc-example"]);

function addKubernetesKeywords(ajv: Ajv): void {
  for (const keyword of ["x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string"]) {
    ajv.addKeyword({ keyword });
  }
  // A code keyword (not a validate function) so that standalone code can be generated: the
  // generated call names celRules, which precompiled modules receive as a parameter.
  ajv.addKeyword({
    keyword: "x-kubernetes-validations",
    schemaType: "array",
    trackErrors: true,
    code(cxt: KeywordCxt) {
      const { gen, data, schema } = cxt;
      const check = gen.scopeValue("func", { ref: celRules, code: new Name(CEL_RULES) });
      const rules = gen.scopeValue("obj", { ref: schema as CelRule[], code: stringify(schema) });
      const errs = gen.const("celErrs", _`${check}(${rules}, ${data})`);
      cxt.pass(_`${errs} === null`, () => {
        gen.assign(N.vErrors, _`${N.vErrors} === null ? ${errs} : ${N.vErrors}.concat(${errs})`).assign(N.errors, _`${N.vErrors}.length`);
        extendErrors(cxt);
      });
    },
  });
}

/**
 * The API server matches `pattern` with Go's RE2, which also spells named groups `(?P<name>...)`
 * (virtualmachinepools.yaml's image references do); JavaScript knows only `(?<name>...)`, and one
 * such pattern would otherwise fail the whole CRD's compilation.
 */
function jsPattern(pattern: string): string {
  return pattern.replace(/(^|[^\\])\(\?P</g, "$1(?<");
}

/** openAPIV3Schema (structural) to the JSON Schema ajv reads. */
function convert(schema: Schema, root: boolean, keepDefaults = false): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATIONS.has(k) || (k === "default" && !keepDefaults)) continue;
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
