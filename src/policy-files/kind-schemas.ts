import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { isObject, type JsonObject, type KindSchema } from "../engine/index.js";

/** The DVP CRDs vendored beside the shipped policies (policies/crds/), from dist/src/policy-files/. */
export const SHIPPED_CRDS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "policies", "crds");

/** The schema of each served version of one CustomResourceDefinition, as the policy loader types `object` with. */
export function kindSchemaOf(crd: JsonObject): KindSchema | undefined {
  const spec = crd.spec;
  if (crd.kind !== "CustomResourceDefinition" || !isObject(spec) || !isObject(spec.names)) return undefined;
  const versions: KindSchema["versions"][number][] = [];
  for (const v of Array.isArray(spec.versions) ? spec.versions : []) {
    if (!isObject(v) || v.served === false || !isObject(v.schema) || !isObject(v.schema.openAPIV3Schema)) continue;
    versions.push({ name: String(v.name), schema: v.schema.openAPIV3Schema });
  }
  return { group: String(spec.group), kind: String(spec.names.kind), resource: String(spec.names.plural), versions };
}

const read = new Map<string, readonly KindSchema[]>();
const digests = new Map<string, string>();

function crdTexts(dir: string): { name: string; text: string }[] {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  return names
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));
}

/** Identifies what readKindSchemas(dir) gives, without building the schemas. */
export function kindSchemaDigest(dir: string = SHIPPED_CRDS): string {
  let digest = digests.get(dir);
  if (digest === undefined) digests.set(dir, (digest = digestOf(crdTexts(dir))));
  return digest;
}

/**
 * Every CRD's schemas in a directory (once per process: a reload of the policies reads no CRDs).
 * A missing or unreadable directory gives none: expressions are then checked with `object` as dyn.
 */
export function readKindSchemas(dir: string = SHIPPED_CRDS): readonly KindSchema[] {
  let schemas = read.get(dir);
  if (schemas) return schemas;
  const texts = crdTexts(dir);
  const digest = digestOf(texts);
  digests.set(dir, digest);
  schemas = prepared(digest) ?? texts.flatMap(({ text }) => schemasIn(text));
  read.set(dir, schemas);
  return schemas;
}

/** The kind schemas the build extracted from the shipped CRDs (see scripts/precompile-validators.ts). */
export const PREPARED_KIND_SCHEMAS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "policy-files", "kind-schemas.json");

/** Identifies a CRD directory's contents: the prepared schemas serve only the very files they came from. */
export function digestOf(texts: readonly { name: string; text: string }[]): string {
  const hash = createHash("sha256");
  for (const { name, text } of texts) hash.update(name).update("\0").update(text).update("\0");
  return hash.digest("hex").slice(0, 32);
}

function prepared(digest: string): KindSchema[] | undefined {
  try {
    const file = JSON.parse(readFileSync(PREPARED_KIND_SCHEMAS, "utf8")) as { digest: string; schemas: KindSchema[] };
    return file.digest === digest ? file.schemas : undefined;
  } catch {
    return undefined; // not built: read the YAML
  }
}

/** The kind schemas of every CRD in one file's text. */
export function schemasIn(text: string): KindSchema[] {
  if (!/kind["']?\s*:\s*["']?CustomResourceDefinition/.test(text)) return [];
  const found: KindSchema[] = [];
  for (const value of documents(text)) {
    const schema = isObject(value) ? kindSchemaOf(value) : undefined;
    if (schema) found.push(schema);
  }
  return found;
}

/**
 * The documents of a CRD file. js-yaml with the YAML 1.2 core schema reads these files as the
 * yaml package does in a third of the time (every command pays this at start-up); a file it
 * rejects is read by the yaml package, which keeps the documents that parse.
 */
function documents(text: string): unknown[] {
  try {
    return loadAll(text, { schema: CORE_SCHEMA });
  } catch {
    const { parseAllDocuments } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
    return parseAllDocuments(text).map((doc) => (doc.errors.length === 0 ? (doc.toJS() as unknown) : undefined));
  }
}
