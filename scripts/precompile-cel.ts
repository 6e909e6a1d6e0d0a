/**
 * Build step: parse every CEL expression of the shipped policy set once, and store the trees in
 * dist/src/policy-files/cel-cache.json; then store the code the compiler generates for the shipped
 * set and for the shipped CRDs' validation rules (dist/src/policy-files/generated/, see
 * src/policy-files/code-store.ts), so that loading them parses, checks and compiles nothing.
 */
import { rmSync, writeFileSync } from "node:fs";
import { buildCacheFile, CEL_CACHE_FILE } from "../src/policy-files/cel-cache.js";
import { compileSelfRule, loadPolicySet } from "../src/engine/index.js";
import { BUILT_CODE_DIR, CodeStore, setKey, writeCodeStore } from "../src/policy-files/code-store.js";
import { policyLoadOptions, policySetKey, readPolicySources, SHIPPED_POLICIES } from "../src/policy-files/policy-dir.js";
import { DEFAULT_CRD_DIR, readCrdDir } from "../src/schema/crd-dir.js";

const sources = readPolicySources(SHIPPED_POLICIES);
const seen = new Set<string>();
const recorder = {
  get(source: string) {
    seen.add(source);
    return undefined;
  },
};
loadPolicySet(sources, { parsed: recorder });
writeFileSync(CEL_CACHE_FILE, buildCacheFile(seen));
console.log(`precompiled ${seen.size} CEL expressions of ${SHIPPED_POLICIES} into ${CEL_CACHE_FILE}`);

rmSync(BUILT_CODE_DIR, { recursive: true, force: true });
const policies = new CodeStore(policySetKey(sources));
loadPolicySet(sources, { ...policyLoadOptions(), code: policies, engine: "compiler" });
writeCodeStore(policies, BUILT_CODE_DIR);

/** Every `x-kubernetes-validations` rule under a schema node. */
function rulesIn(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) rulesIn(item, into);
    return;
  }
  if (typeof node !== "object" || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === "x-kubernetes-validations" && Array.isArray(value)) {
      for (const v of value) if (typeof v === "object" && v !== null && typeof (v as { rule?: unknown }).rule === "string") into.add((v as { rule: string }).rule);
    } else rulesIn(value, into);
  }
}
const rules = new Set<string>();
const shipped = readCrdDir(DEFAULT_CRD_DIR);
for (const crd of shipped.crds) rulesIn(crd, rules);
for (const { schema } of shipped.fields) rulesIn(schema, rules);
const selfRules = new CodeStore(setKey(["self-rules"]));
for (const rule of rules) {
  try {
    compileSelfRule(rule, selfRules);
  } catch {
    // A rule the compiler rejects is skipped at run time as well.
  }
}
writeCodeStore(selfRules, BUILT_CODE_DIR);
console.log(`stored the generated code of ${policies.size} policy expressions and ${selfRules.size} CRD rules in ${BUILT_CODE_DIR}`);
