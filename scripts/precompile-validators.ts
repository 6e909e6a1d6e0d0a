/**
 * Build step: generate, as ajv standalone modules, the policy document validator (see
 * src/engine/document-schema.ts) and the CRD schema validators of the default CRD directory (see
 * src/schema/crd-precompiled.ts, keyed by a hash of the directory's files), so that nothing
 * compiles a JSON schema at run time.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { Ajv } from "ajv";
import { DOCUMENT_AJV_OPTIONS, documentSchema, documentSchemaDigest, PRECOMPILED_DOCUMENT_VALIDATOR } from "../src/engine/document-schema.js";
import { isObject } from "../src/engine/index.js";
import { PARAMETER_AJV_OPTIONS, parameterSchemaDigest, PRECOMPILED_PARAMETER_VALIDATORS } from "../src/engine/parameters.js";
import { loadPolicyDir, SHIPPED_POLICIES } from "../src/policy-files/policy-dir.js";
import { crdDirHash, DEFAULT_CRD_DIR, fieldSchemaKey, readCrdDir } from "../src/schema/crd-dir.js";
import { kindSchemasIn, PREPARED_KIND_SCHEMAS } from "../src/schema/kind-schemas.js";
import { nullShape, PRECOMPILED_CRD_DIR, PRECOMPILED_INDEX, wrapStandalone, type PrecompiledIndex } from "../src/schema/crd-precompiled.js";
import { crdAjv, crdVersionSchemas, fieldSchema } from "../src/schema/crd-compile.js";

// ajv/dist/standalone is CommonJS whose module.exports is the function; typed as a module with a default.
const standaloneCode = createRequire(import.meta.url)("ajv/dist/standalone") as typeof import("ajv/dist/standalone/index.js").default;

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
  // The kind schemas policies are type checked against, extracted once (see src/schema/kind-schemas.ts).
  const schemas = kindSchemasIn(DEFAULT_CRD_DIR);
  writeFileSync(PREPARED_KIND_SCHEMAS, JSON.stringify({ hash: crdDirHash(DEFAULT_CRD_DIR), schemas }));
  console.log(`prepared the kind schemas of ${schemas.length} CRDs of ${DEFAULT_CRD_DIR} into ${PREPARED_KIND_SCHEMAS}`);
}

const dir = process.argv[2] ?? DEFAULT_CRD_DIR;
rmSync(PRECOMPILED_CRD_DIR, { recursive: true, force: true });
if (!existsSync(dir)) {
  console.log(`no CRD directory at ${dir}: no precompiled schema validators (check compiles them at run time)`);
  process.exit(0);
}
mkdirSync(PRECOMPILED_CRD_DIR, { recursive: true });

const ajvVersion = (JSON.parse(readFileSync(new URL("../../node_modules/ajv/package.json", import.meta.url), "utf8")) as { version: string }).version;
const index: PrecompiledIndex = { hash: crdDirHash(dir), ajv: ajvVersion, kinds: [], clusterScoped: [], resources: {}, versions: {}, structural: {}, fieldSchemas: {} };
const ajv = crdAjv(true);
let bytes = 0;

function emit(name: string, schema: Parameters<typeof ajv.compile>[0]): string {
  const file = `${name.replace(/[^A-Za-z0-9.-]+/g, "_")}.cjs`;
  const code = wrapStandalone(standaloneCode(ajv, ajv.compile(schema)));
  writeFileSync(join(PRECOMPILED_CRD_DIR, file), code);
  bytes += code.length;
  return file;
}

const contents = readCrdDir(dir);
for (const crd of contents.crds) {
  if (!isObject(crd.spec)) continue;
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
for (const { spec, schema } of contents.fields) {
  const key = fieldSchemaKey(spec.group, spec.kind, spec.name);
  index.fieldSchemas[key] = { field: spec.field, file: emit(`field-${key}`, fieldSchema(schema)) };
}
writeFileSync(join(PRECOMPILED_CRD_DIR, PRECOMPILED_INDEX), JSON.stringify(index, null, 1));
console.log(
  `precompiled ${Object.keys(index.versions).length + Object.keys(index.fieldSchemas).length} CRD schema validators of ${dir} into ${PRECOMPILED_CRD_DIR} (${Math.round(bytes / 1024)} KiB)`,
);
