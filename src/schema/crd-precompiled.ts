import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CEL_RULES, celRules } from "./crd-rules.js";
import type { JsonValue } from "../engine/index.js";
import { crdDirHash } from "./crd-dir.js";
import { CrdSchemas, type FieldValidator, type VersionSchema } from "./crd-schema.js";

/**
 * CRD schema validators generated at build time (ajv standalone code, one CommonJS module per
 * kind and version), so that `check` compiles no schema at run time. They serve a CRD directory
 * only when its files hash to what they were generated from: `--crds DIR` with other CRDs, or
 * edited ones, compiles at run time as before.
 */
export const PRECOMPILED_CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "schema", "precompiled-crds");
export const PRECOMPILED_INDEX = "index.json";

export interface PrecompiledIndex {
  /** crdDirHash of the directory the validators were generated from. */
  hash: string;
  /** The ajv version that generated them. */
  ajv: string;
  /** "group/Kind" of every CRD in the directory. */
  kinds: string[];
  /** Plural resource names by "group/Kind". */
  resources: Record<string, string>;
  /** "group/Kind" of the cluster-scoped CRDs. */
  clusterScoped: string[];
  /** Module file by "group/version/Kind". */
  versions: Record<string, string>;
  /** The schema's null-pruning shape (see nullShape) by "group/version/Kind", as a JSON file. */
  structural: Record<string, string>;
  /** Module file and field of each field schema, by "group/Kind/name" (see crd-dir.ts). */
  fieldSchemas: Record<string, { field: string; file: string }>;
}

type Shape = { [key: string]: JsonValue };

/** What pruneNulls reads of a schema: properties, items, additionalProperties and nullable, nothing else. */
export function nullShape(schema: Shape): Shape {
  const out: Shape = {};
  const isShape = (v: unknown): v is Shape => typeof v === "object" && v !== null && !Array.isArray(v);
  if (schema.nullable === true) out.nullable = true;
  if (isShape(schema.properties)) out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, isShape(v) ? nullShape(v) : {}]));
  if (isShape(schema.items)) out.items = nullShape(schema.items);
  if (isShape(schema.additionalProperties)) out.additionalProperties = nullShape(schema.additionalProperties);
  return out;
}

/** Wraps one standalone module so that it receives celRules instead of importing it. */
export function wrapStandalone(code: string): string {
  return `"use strict";\nmodule.exports = function (${CEL_RULES}) {\nconst module = { exports: {} };\n${code}\nreturn module.exports;\n};\n`;
}

const require = createRequire(import.meta.url);
let index: PrecompiledIndex | null | undefined;

function readIndex(): PrecompiledIndex | null {
  if (index !== undefined) return index;
  try {
    index = JSON.parse(readFileSync(join(PRECOMPILED_CRD_DIR, PRECOMPILED_INDEX), "utf8")) as PrecompiledIndex;
  } catch {
    // No build step ran (a development tree): schemas compile at run time.
    index = null;
  }
  return index;
}

function loadModule(file: string): VersionSchema {
  const factory = require(join(PRECOMPILED_CRD_DIR, file)) as (rules: typeof celRules) => VersionSchema;
  return factory(celRules);
}

/**
 * The precompiled schemas of `dir`, or undefined when they were generated from other files.
 * Validators load lazily, on the first object of their kind and version.
 */
export function precompiledCrds(dir: string): { schemas: CrdSchemas; resources: Map<string, string> } | undefined {
  const idx = readIndex();
  if (!idx) return undefined;
  let hash: string;
  try {
    hash = crdDirHash(dir);
  } catch {
    return undefined;
  }
  if (hash !== idx.hash) return undefined;
  const versions = new Map<string, VersionSchema>();
  for (const [key, file] of Object.entries(idx.versions)) versions.set(key, lazyValidator(file));
  const fieldSchemas = new Map<string, FieldValidator>();
  for (const [key, { field, file }] of Object.entries(idx.fieldSchemas ?? {})) fieldSchemas.set(key, { field, validate: lazyValidator(file) });
  const shapes = new Map<string, Shape | undefined>();
  const structural = {
    get(key: string): Shape | undefined {
      if (!shapes.has(key)) {
        const file = idx.structural[key];
        shapes.set(key, file ? (JSON.parse(readFileSync(join(PRECOMPILED_CRD_DIR, file), "utf8")) as Shape) : undefined);
      }
      return shapes.get(key);
    },
    set(key: string, schema: Shape) {
      shapes.set(key, schema);
    },
  };
  return {
    schemas: CrdSchemas.precompiled({ versions, kinds: new Set(idx.kinds), clusterScoped: new Set(idx.clusterScoped), fieldSchemas, structural }),
    resources: new Map(Object.entries(idx.resources)),
  };
}

/** A validator whose module is required on first use; its `errors` are the loaded one's. */
function lazyValidator(file: string): VersionSchema {
  let loaded: VersionSchema | undefined;
  const validate = ((data: unknown) => {
    loaded ??= loadModule(file);
    const ok = loaded(data);
    validate.errors = loaded.errors;
    return ok;
  }) as VersionSchema;
  return validate;
}
