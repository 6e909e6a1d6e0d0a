import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isObject, type JsonObject, type KindSchema } from "../engine/index.js";
import { crdDirHash, DEFAULT_CRD_DIR, readCrdDir } from "./crd-dir.js";

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

/** The kind schemas of every CRD in a directory (see crd-dir.ts). */
export function kindSchemasIn(dir: string): KindSchema[] {
  const crds = readCrdDir(dir, { mayHold: (text) => /kind["']?\s*:\s*["']?CustomResourceDefinition/.test(text), wantField: () => false }).crds;
  return crds.flatMap((crd) => kindSchemaOf(crd) ?? []);
}

/** The kind schemas the build extracted from the default CRD directory (see scripts/precompile-validators.ts). */
export const PREPARED_KIND_SCHEMAS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "schema", "kind-schemas.json");

const read = new Map<string, readonly KindSchema[]>();
const hashes = new Map<string, string>();

/** Identifies what readKindSchemas(dir) gives, without building the schemas: the directory's crdDirHash. */
export function kindSchemaDigest(dir: string = DEFAULT_CRD_DIR): string {
  let hash = hashes.get(dir);
  if (hash === undefined) {
    try {
      hash = crdDirHash(dir);
    } catch {
      hash = "none"; // no directory: no schemas
    }
    hashes.set(dir, hash);
  }
  return hash;
}

/**
 * Every CRD's schemas in a directory (once per process: a reload of the policies reads no CRDs).
 * A missing directory, or one that cannot be read, gives none: expressions are then checked with
 * `object` as dyn (the schema checks of `check` and `review` report a broken CRD directory).
 */
export function readKindSchemas(dir: string = DEFAULT_CRD_DIR): readonly KindSchema[] {
  let schemas = read.get(dir);
  if (schemas) return schemas;
  try {
    schemas = prepared(kindSchemaDigest(dir)) ?? kindSchemasIn(dir);
  } catch {
    schemas = [];
  }
  read.set(dir, schemas);
  return schemas;
}

function prepared(hash: string): KindSchema[] | undefined {
  try {
    const file = JSON.parse(readFileSync(PREPARED_KIND_SCHEMAS, "utf8")) as { hash: string; schemas: KindSchema[] };
    return file.hash === hash ? file.schemas : undefined;
  } catch {
    return undefined; // not built: read the YAML
  }
}
