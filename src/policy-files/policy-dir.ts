import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { precompiledExpressions } from "./cel-cache.js";
import { hashPolicySources, loadPolicySet, PolicyLoadError, type LoadOptions, type ParsedExpressionCache, type PolicySet, type PolicySource } from "../engine/index.js";
import { kindSchemaDigest, readKindSchemas } from "../schema/kind-schemas.js";
import { openCodeStore, saveCodeStore, setKey } from "./code-store.js";

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

/** The build-time parse trees, read only once an expression has to be parsed. */
const lazyParsed: ParsedExpressionCache = { get: (source) => precompiledExpressions().get(source) };

/** What every command loads policies with: the build-time CEL cache, and the CRD schemas expressions are type checked against. */
export function policyLoadOptions(): LoadOptions {
  return { parsed: lazyParsed, schemas: readKindSchemas() };
}

/**
 * Loads a policy set with the code generated for it before (by the build for the shipped set, or
 * by an earlier run, kept in the user cache): a set seen before is neither parsed, nor type
 * checked, nor compiled again. A set loaded for the first time is stored for the next run.
 */
export function loadPolicySources(sources: readonly PolicySource[], options?: LoadOptions): PolicySet {
  const code = openCodeStore(policySetKey(sources));
  // A verified set is not type checked again: its schemas need not even be read.
  const base = options ?? (code.stored ? { parsed: lazyParsed } : policyLoadOptions());
  const set = loadPolicySet(sources, { ...base, code, verified: code.stored });
  saveCodeStore(code);
  return set;
}

/** What a set's stored code is keyed by: its files, and the CRD schemas it is checked against (plus the build, see code-store.ts). */
export function policySetKey(sources: readonly PolicySource[]): string {
  return setKey(["policies", kindSchemaDigest(), hashPolicySources(sources)]);
}

export function loadPolicyDir(dir: string = SHIPPED_POLICIES): PolicySet {
  return loadPolicySources(readPolicySources(dir));
}
