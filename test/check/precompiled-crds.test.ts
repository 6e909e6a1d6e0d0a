import assert from "node:assert/strict";
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCrdsFor } from "../../src/schema/crds-for.js";
import { parseObjects } from "../../src/cluster/files.js";
import type { JsonObject } from "../../src/engine/index.js";
import { DEFAULT_CRD_DIR } from "../../src/schema/crd-dir.js";
import { PRECOMPILED_CRD_DIR, precompiledCrds } from "../../src/schema/crd-precompiled.js";
import { FIXTURES } from "../support/paths.js";
import { CHECK } from "./helpers.js";

/** A copy of the default CRD directory; `edit` changes it so it no longer matches the build's hash. */
function crdCopy(edit?: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), "virtguard-crds-"));
  cpSync(DEFAULT_CRD_DIR, dir, { recursive: true, dereference: true });
  edit?.(dir);
  return dir;
}

function fixtureObjects(): JsonObject[] {
  const out: JsonObject[] = [];
  for (const sub of ["vm", "class", "moduleconfig"]) {
    for (const name of readdirSync(join(FIXTURES, sub))) {
      const file = join(FIXTURES, sub, name);
      for (const { object } of parseObjects(readFileSync(file, "utf8"), file)) out.push(object);
    }
  }
  for (const name of ["legacy-vm.yaml"]) {
    const file = join(CHECK, name);
    for (const { object } of parseObjects(readFileSync(file, "utf8"), file)) out.push(object);
  }
  return out;
}

/** Invalid variants, so that errors (paths, messages, CEL rule failures) are compared too. */
function broken(object: JsonObject): JsonObject[] {
  const spec = (object.spec ?? {}) as JsonObject;
  return [
    { ...object, spec: { ...spec, unknownField: 1 } },
    { ...object, spec: { ...spec, cpu: { cores: "many", coreFraction: "150%" } } },
    { ...object, spec: { ...spec, sizingPolicies: [{ cores: { min: 8, max: 2 } }], nodeSelector: { matchExpressions: [{ key: "a" }] } } },
    { ...object, spec: { ...spec, settings: { virtualMachineCIDRs: [] } } },
  ];
}

test("the build precompiled the default CRD directory: no schema compiles at run time, and only the kinds used load", () => {
  const loaded = precompiledCrds(DEFAULT_CRD_DIR);
  assert.ok(loaded, "npm run build generates validators for the default CRD directory");
  const vm = fixtureObjects().find((o) => o.kind === "VirtualMachine") as JsonObject;
  const require = createRequire(import.meta.url);
  const modules = () => Object.keys(require.cache).filter((f) => f.startsWith(PRECOMPILED_CRD_DIR));
  const before = modules();
  assert.ok(!before.some((f) => f.includes("_VirtualMachine.cjs")), before.join("\n"));
  assert.deepEqual(loaded.schemas.admit(vm)?.problems, []);
  const after = modules().filter((f) => !before.includes(f));
  assert.deepEqual(after.map((f) => f.slice(PRECOMPILED_CRD_DIR.length + 1)), ["virtualization.deckhouse.io_v1alpha2_VirtualMachine.cjs"]);
  assert.equal(loaded.resources.get("virtualization.deckhouse.io/VirtualMachineClass"), "virtualmachineclasses");
});

test("precompiled validators judge and default exactly as validators compiled at run time", () => {
  const precompiled = loadCrdsFor(DEFAULT_CRD_DIR, []).schemas;
  const objects = fixtureObjects();
  const compiled = loadCrdsFor(crdCopy((dir) => appendFileSync(join(dir, "virtualmachines.yaml"), "\n# edited\n")), objects.flatMap((o) => [o, ...broken(o)])).schemas;
  let problems = 0;
  for (const object of objects.flatMap((o) => [o, ...broken(o)])) {
    const a = precompiled.admit(object);
    const b = compiled.admit(object);
    assert.deepEqual(a, b, `${String(object.kind)} ${JSON.stringify(object.spec).slice(0, 120)}`);
    problems += a?.problems.length ?? 0;
  }
  assert.ok(problems > 20, `the broken variants produce problems to compare (${problems})`);
});

test("--crds with edited CRDs is compiled at run time and judged by the edit, not by the build's validators", () => {
  const vm = fixtureObjects().find((o) => o.kind === "VirtualMachine" && (o.spec as JsonObject).runPolicy !== undefined) as JsonObject;
  const runPolicy = (vm.spec as JsonObject).runPolicy as string;
  const edited = crdCopy((dir) => {
    const file = join(dir, "virtualmachines.yaml");
    // The edited CRD no longer allows the run policy the VM uses.
    writeFileSync(file, readFileSync(file, "utf8").replace(new RegExp(`^ *- "?${runPolicy}"?\\n`, "gm"), ""));
  });
  assert.equal(precompiledCrds(edited), undefined);
  assert.deepEqual(loadCrdsFor(DEFAULT_CRD_DIR, [vm]).schemas.validate(vm), []);
  const problems = loadCrdsFor(edited, [vm]).schemas.validate(vm);
  assert.ok(problems?.some((p) => p.path === "spec.runPolicy"), JSON.stringify(problems));
});

test("a copied CRD directory with the same files uses the precompiled validators", () => {
  assert.ok(precompiledCrds(crdCopy()));
  assert.equal(precompiledCrds(mkdtempSync(join(tmpdir(), "virtguard-nocrds-"))), undefined);
});
