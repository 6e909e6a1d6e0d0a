import assert from "node:assert/strict";
import { relative } from "node:path";
import { test } from "node:test";
import { readObjectsFile } from "../../src/cluster/files.js";
import { loadCrdsFor } from "../../src/schema/crds-for.js";
import { allFixtureFiles } from "../support/fixtures.js";
import { FIXTURES, DVP_CRDS } from "../support/paths.js";

// Fixtures are checked against DVP's real CRDs and module settings schema, so tests cannot drift from the API.
const crds = loadCrdsFor(DVP_CRDS).schemas;
const DVP_GROUPS = /^(virtualization\.deckhouse\.io|deckhouse\.io)\//;

// dvp-corpus/ holds manifests others wrote, fragments included: dvp-corpus.test.ts asserts their verdicts, schema ones too.
const files = allFixtureFiles().filter((f) => !relative(FIXTURES, f).startsWith("invalid/") && !relative(FIXTURES, f).startsWith("dvp-corpus/"));

test("there are fixtures to check", () => {
  assert.ok(files.length >= 5, `found ${files.length} fixture files`);
});

for (const file of files) {
  test(`fixture ${relative(FIXTURES, file)} matches the DVP schemas`, () => {
    const objects = readObjectsFile(file);
    assert.ok(objects.length > 0, "a fixture file holds at least one object");
    for (const { object, line } of objects) {
      const where = `${relative(FIXTURES, file)}:${line} ${String(object.kind)}`;
      if (DVP_GROUPS.test(String(object.apiVersion)) && object.kind !== "ClusterConfiguration") {
        assert.ok(crds.knows(object), `${where}: no CRD in policies/crds/ describes ${String(object.apiVersion)} ${String(object.kind)}`);
      }
      const problems = crds.validate(object);
      assert.deepEqual(problems ?? [], [], `${where} does not match its CRD`);
    }
  });
}

test("the schema check catches a fixture that drifted from the CRD", () => {
  const problems = crds.validate({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: "drifted" },
    spec: { virtualMachineClassName: "x", cpu: { cores: 1, coreFraction: "150%" }, memory: { size: "1Gi" }, blockDeviceRefs: [], cpuCores: 2 },
  });
  assert.ok(problems);
  assert.ok(problems.some((p) => p.path === "spec.cpuCores" && p.message === "unknown field"), JSON.stringify(problems));
  assert.ok(problems.some((p) => p.message === "Core fraction must be 'Auto' or a percentage between 1% and 100%."), JSON.stringify(problems));
});

test("the virtualization ModuleConfig's settings are checked against config-values.yaml", () => {
  const problems = crds.validate({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization" },
    spec: { enabled: true, version: 1, settings: { virtualMachineCIDRs: [] } },
  });
  assert.deepEqual(problems, [
    { path: "spec.settings.dvcr", message: "Required value" },
    { path: "spec.settings.virtualMachineCIDRs", message: "must NOT have fewer than 1 items" },
  ]);
});
