import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import type { JsonObject } from "../engine/index.js";
import { CrdSchemas } from "./crd-schema.js";

/**
 * DVP's CRDs vendored with the policies (`policies/crds/`, see SOURCES.md there). Resolved from this
 * module's own location (dist/src/schema/), so it holds in the repository, in an installed package
 * and in the image alike.
 */
export const DEFAULT_CRD_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "policies", "crds");

/** The module settings schema in a CRD directory, and the ModuleConfig it describes. */
const MODULE_SETTINGS = { file: "config-values.yaml", module: "virtualization" };

/**
 * Every CustomResourceDefinition in the directory's YAML/JSON files, plus `config-values.yaml`
 * (when present) as the settings schema of the `virtualization` ModuleConfig.
 */
export function loadCrdDir(dir: string = DEFAULT_CRD_DIR): CrdSchemas {
  // Loaded here, not at import: `check` imports DEFAULT_CRD_DIR from this module and never needs yaml.
  const { parseAllDocuments, parse } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`${dir}: cannot read CRD directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const crds: JsonObject[] = [];
  for (const name of names.filter((n) => /\.(ya?ml|json)$/.test(n) && n !== MODULE_SETTINGS.file).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, name), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, name)}: invalid YAML: ${doc.errors[0]?.message.split("\n")[0]}`);
      const value = doc.toJS() as unknown;
      if (value && typeof value === "object" && (value as JsonObject).kind === "CustomResourceDefinition") crds.push(value as JsonObject);
    }
  }
  const schemas = new CrdSchemas(crds);
  const settings = join(dir, MODULE_SETTINGS.file);
  if (existsSync(settings)) schemas.addModuleSettingsSchema(MODULE_SETTINGS.module, parse(readFileSync(settings, "utf8")) as JsonObject);
  return schemas;
}
