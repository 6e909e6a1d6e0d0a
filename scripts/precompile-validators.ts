/**
 * Build step: generate, as ajv standalone modules, the policy document validator (see
 * src/engine/document-schema.ts) and the CRD schema validators of the default CRD directory (see
 * src/schema/crd-precompiled.ts, keyed by a hash of the directory's files), so that nothing
 * compiles a JSON schema at run time.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CORE_SCHEMA, load, loadAll } from "js-yaml";
import { createRequire } from "node:module";
import { Ajv } from "ajv";
import { DOCUMENT_AJV_OPTIONS, documentSchema, documentSchemaDigest, PRECOMPILED_DOCUMENT_VALIDATOR } from "../src/engine/document-schema.js";
import type { JsonObject } from "../src/engine/index.js";
import { PARAMETER_AJV_OPTIONS, parameterSchemaDigest, PRECOMPILED_PARAMETER_VALIDATORS } from "../src/engine/parameters.js";
import { digestOf, PREPARED_KIND_SCHEMAS, schemasIn, SHIPPED_CRDS } from "../src/policy-files/kind-schemas.js";
import { loadPolicyDir, SHIPPED_POLICIES } from "../src/policy-files/policy-dir.js";
import { DEFAULT_CRD_DIR } from "../src/schema/crd-files.js";
import { crdDirFiles, crdDirHash, nullShape, PRECOMPILED_CRD_DIR, PRECOMPILED_INDEX, wrapStandalone, type PrecompiledIndex } from "../src/schema/crd-precompiled.js";
import { crdAjv, crdVersionSchemas, moduleSettingsSchema } from "../src/schema/crd-compile.js";

// ajv/dist/standalone is CommonJS whose module.exports is the function; typed as a module with a default.
const standaloneCode = createRequire(import.meta.url)("ajv/dist/standalone") as typeof import("ajv/dist/standalone/index.js").default;

const SETTINGS = { file: "config-values.yaml", module: "virtualization" };

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

{
  const ajv = new Ajv({ ...DOCUMENT_AJV_OPTIONS, code: { source: true } });
  const code = standaloneCode(ajv, ajv.compile(documentSchema));
  const file = fileURLToPath(new URL(`../src/engine/${PRECOMPILED_DOCUMENT_VALIDATOR}`, import.meta.url));
  writeFileSync(file, `${code}\nmodule.exports.validate = module.exports;\nmodule.exports.digest = ${JSON.stringify(documentSchemaDigest())};\n`);
  console.log(`precompiled the policy document validator into ${file} (${Math.round(code.length / 1024)} KiB)`);
}

{
  // The shipped policies' parameter schemas, by digest (see src/engine/parameters.ts).
  const ajv = new Ajv({ ...PARAMETER_AJV_OPTIONS, code: { source: true } });
  const entries: string[] = [];
  for (const decl of loadPolicyDir(SHIPPED_POLICIES).parameters.values()) {
    if (!decl.schema) continue;
    const code = standaloneCode(ajv, ajv.compile(decl.schema));
    entries.push(`validators[${JSON.stringify(parameterSchemaDigest(decl.schema))}] = (function () {\nconst module = { exports: {} };\n${code}\nreturn module.exports;\n})();`);
  }
  const file = fileURLToPath(new URL(`../src/engine/${PRECOMPILED_PARAMETER_VALIDATORS}`, import.meta.url));
  writeFileSync(file, `"use strict";\nconst validators = Object.create(null);\n${entries.join("\n")}\nmodule.exports = validators;\n`);
  console.log(`precompiled ${entries.length} parameter schema validators of the shipped policies into ${file}`);
}

{
  // The kind schemas policies are type checked against, extracted once (see src/policy-files/kind-schemas.ts).
  const texts = crdDirFiles(SHIPPED_CRDS).map((name) => ({ name, text: readFileSync(join(SHIPPED_CRDS, name), "utf8") }));
  const schemas = texts.flatMap(({ text }) => schemasIn(text));
  writeFileSync(PREPARED_KIND_SCHEMAS, JSON.stringify({ digest: digestOf(texts), schemas }));
  console.log(`prepared the kind schemas of ${schemas.length} CRDs of ${SHIPPED_CRDS} into ${PREPARED_KIND_SCHEMAS}`);
}

const dir = process.argv[2] ?? DEFAULT_CRD_DIR;
rmSync(PRECOMPILED_CRD_DIR, { recursive: true, force: true });
if (!existsSync(dir)) {
  console.log(`no CRD directory at ${dir}: no precompiled schema validators (check compiles them at run time)`);
  process.exit(0);
}
mkdirSync(PRECOMPILED_CRD_DIR, { recursive: true });

const ajvVersion = (JSON.parse(readFileSync(new URL("../../node_modules/ajv/package.json", import.meta.url), "utf8")) as { version: string }).version;
const files = crdDirFiles(dir);
const index: PrecompiledIndex = { hash: crdDirHash(dir, files), ajv: ajvVersion, kinds: [], clusterScoped: [], resources: {}, versions: {}, structural: {}, moduleSettings: {} };
const ajv = crdAjv(true);
let bytes = 0;

function emit(name: string, schema: Parameters<typeof ajv.compile>[0]): string {
  const file = `${name.replace(/[^A-Za-z0-9.-]+/g, "_")}.cjs`;
  const code = wrapStandalone(standaloneCode(ajv, ajv.compile(schema)));
  writeFileSync(join(PRECOMPILED_CRD_DIR, file), code);
  bytes += code.length;
  return file;
}

for (const name of files.filter((n) => n !== SETTINGS.file)) {
  for (const crd of loadAll(readFileSync(join(dir, name), "utf8"), { schema: CORE_SCHEMA })) {
    if (!isObject(crd) || crd.kind !== "CustomResourceDefinition" || !isObject(crd.spec)) continue;
    const names = isObject(crd.spec.names) ? crd.spec.names : {};
    const kind = `${String(crd.spec.group)}/${String(names.kind)}`;
    index.kinds.push(kind);
    if (typeof names.plural === "string") index.resources[kind] = names.plural;
    if (crd.spec.scope === "Cluster") index.clusterScoped.push(kind);
    for (const v of crdVersionSchemas(crd)) {
      index.versions[v.key] = emit(v.key, v.schema);
      const shape = `${v.key.replace(/[^A-Za-z0-9.-]+/g, "_")}.structural.json`;
      writeFileSync(join(PRECOMPILED_CRD_DIR, shape), JSON.stringify(nullShape(v.written)));
      index.structural[v.key] = shape;
    }
  }
}
if (files.includes(SETTINGS.file)) {
  const schema = load(readFileSync(join(dir, SETTINGS.file), "utf8"), { schema: CORE_SCHEMA }) as JsonObject;
  index.moduleSettings[SETTINGS.module] = emit(`settings-${SETTINGS.module}`, moduleSettingsSchema(schema));
}
writeFileSync(join(PRECOMPILED_CRD_DIR, PRECOMPILED_INDEX), JSON.stringify(index, null, 1));
console.log(
  `precompiled ${Object.keys(index.versions).length + Object.keys(index.moduleSettings).length} CRD schema validators of ${dir} into ${PRECOMPILED_CRD_DIR} (${Math.round(bytes / 1024)} KiB)`,
);
