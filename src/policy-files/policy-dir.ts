import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { precompiledExpressions } from "./cel-cache.js";
import { loadPolicySet, PolicyLoadError, type LoadOptions, type PolicySet, type PolicySource } from "../engine/index.js";
import { readKindSchemas } from "./kind-schemas.js";

/** The policy set shipped with virtguard. */
export const SHIPPED_POLICIES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "policies");

/**
 * Reads every `*.json` policy in a directory (not recursive, so `tests/` and the schema stay out;
 * ConfigMap mounts' hidden `..data` entries are skipped as well) and compiles them as one set.
 */
export function readPolicySources(dir: string): PolicySource[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new PolicyLoadError([{ file: dir, path: "", message: "is not a directory" }]);
    entries = readdirSync(dir);
  } catch (err) {
    if (err instanceof PolicyLoadError) throw err;
    throw new PolicyLoadError([{ file: dir, path: "", message: `cannot read policy directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  const files = entries.filter((n) => n.endsWith(".json") && !n.startsWith(".") && !n.endsWith(".schema.json")).sort();
  if (files.length === 0) throw new PolicyLoadError([{ file: dir, path: "", message: "contains no *.json policy files" }]);
  return files.map((name) => {
    const file = join(dir, name);
    return { file, text: readFileSync(file, "utf8") };
  });
}

/** What every command loads policies with: the build-time CEL cache, and the CRD schemas expressions are type checked against. */
export function policyLoadOptions(): LoadOptions {
  return { parsed: precompiledExpressions(), schemas: readKindSchemas() };
}

export function loadPolicyDir(dir: string = SHIPPED_POLICIES): PolicySet {
  return loadPolicySet(readPolicySources(dir), policyLoadOptions());
}
