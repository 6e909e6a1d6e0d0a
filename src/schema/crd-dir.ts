import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isObject, type JsonObject } from "../engine/index.js";
import { readYamlDocuments, YamlError } from "../yaml/read.js";

/**
 * The CRDs vendored with the policies (`policies/crds/`, see SOURCES.md there). Resolved from this
 * module's own location (dist/src/schema/), so it holds in the repository, in an installed package
 * and in the image alike.
 */
export const DEFAULT_CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "policies", "crds");

/** The file of a CRD directory that gives schemas to fields its CRDs leave free-form. */
export const FIELD_SCHEMAS_FILE = "field-schemas.json";

/**
 * A schema for one free-form field of the objects of one group, kind and name, from a file of the
 * directory: an operator's CRD may keep a field open (`x-kubernetes-preserve-unknown-fields`) and
 * publish its schema per object name, as Deckhouse does for each module's ModuleConfig settings.
 */
export interface FieldSchema {
  group: string;
  kind: string;
  name: string;
  /** Dotted path of the field in the object, e.g. "spec.settings". */
  field: string;
  /** The file of the directory holding the schema (OpenAPI v3, as in a CRD). */
  file: string;
}

/** What a CRD directory holds: its CRDs, and the field schemas it declares with their schemas. */
export interface CrdDirContents {
  crds: JsonObject[];
  fields: { spec: FieldSchema; schema: JsonObject }[];
}

/** The files a CRD directory is read from: YAML and JSON, sorted. */
export function crdDirFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`${dir}: cannot read CRD directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return names.filter((n) => /\.(ya?ml|json)$/.test(n)).sort();
}

/** A digest of every file a CRD directory is read from (names and contents): what build-time artifacts are keyed by. */
export function crdDirHash(dir: string, files = crdDirFiles(dir)): string {
  const hash = createHash("sha256");
  for (const name of files) hash.update(name).update("\0").update(readFileSync(join(dir, name))).update("\0");
  return hash.digest("hex").slice(0, 32);
}

/** The group/kind key of an object a field schema may apply to, with its name. */
export function fieldSchemaKey(group: string, kind: string, name: string): string {
  return `${group}/${kind}/${name}`;
}

/**
 * Reads a CRD directory: every CustomResourceDefinition in its YAML and JSON files, and the field
 * schemas its `field-schemas.json` declares. `mayHold` passes over files whose text cannot hold a
 * wanted CRD (they are not even parsed: parsing is what costs); `wantField` picks field schemas.
 * Every problem names the file.
 */
export function readCrdDir(
  dir: string,
  opts: { mayHold?: (text: string) => boolean; wantField?: (spec: FieldSchema) => boolean } = {},
): CrdDirContents {
  const files = crdDirFiles(dir);
  const specs = files.includes(FIELD_SCHEMAS_FILE) ? readFieldSchemaSpecs(join(dir, FIELD_SCHEMAS_FILE)) : [];
  const notCrds = new Set([FIELD_SCHEMAS_FILE, ...specs.map((s) => s.file)]);
  const crds: JsonObject[] = [];
  for (const name of files) {
    if (notCrds.has(name)) continue;
    const file = join(dir, name);
    const text = readFileSync(file, "utf8");
    if (opts.mayHold && !opts.mayHold(text)) continue;
    for (const doc of yamlDocuments(file, text)) if (isObject(doc) && doc.kind === "CustomResourceDefinition") crds.push(doc);
  }
  const fields: CrdDirContents["fields"] = [];
  for (const spec of specs) {
    if (opts.wantField && !opts.wantField(spec)) continue;
    const file = join(dir, spec.file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`${join(dir, FIELD_SCHEMAS_FILE)}: ${spec.file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const [schema] = yamlDocuments(file, text);
    if (!isObject(schema)) throw new Error(`${file}: expected a schema (a YAML mapping)`);
    fields.push({ spec, schema });
  }
  return { crds, fields };
}

/** The documents of a CRD file, read as the API server reads YAML. */
function yamlDocuments(file: string, text: string): unknown[] {
  try {
    return readYamlDocuments(text);
  } catch (err) {
    if (err instanceof YamlError) throw new Error(`${file}:${err.line}: invalid YAML: ${err.reason}`);
    throw err;
  }
}

function readFieldSchemaSpecs(file: string): FieldSchema[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const list = isObject(parsed) ? parsed.fieldSchemas : undefined;
  if (!Array.isArray(list)) throw new Error(`${file}: fieldSchemas: expected a list`);
  return list.map((entry, i) => {
    if (!isObject(entry)) throw new Error(`${file}: fieldSchemas[${i}]: expected an object`);
    for (const key of ["group", "kind", "name", "field", "file"] as const) {
      if (typeof entry[key] !== "string" || (key !== "group" && entry[key] === "")) throw new Error(`${file}: fieldSchemas[${i}].${key}: expected a non-empty string`);
    }
    if ((entry.file as string).includes("/")) throw new Error(`${file}: fieldSchemas[${i}].file: expected a file of this directory`);
    return { group: entry.group, kind: entry.kind, name: entry.name, field: entry.field, file: entry.file } as FieldSchema;
  });
}
