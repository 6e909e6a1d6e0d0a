import assert from "node:assert/strict";
import { test } from "node:test";
import { bindParameters } from "../../src/engine/index.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";

// Parameters declared `fromCluster` take what the cluster states when no value is given.
const set = loadPolicyDir();

test("the shipped kubernetesVersion parameter is read from the API server's version", () => {
  assert.equal(set.parameters.get("kubernetesVersion")?.fromCluster, "serverVersion");
});

test("a fact fills a fromCluster parameter that was not given, and is no assumption", () => {
  const bound = bindParameters(set, {}, { serverVersion: "v1.33.13" });
  assert.equal(bound.values.kubernetesVersion, "v1.33.13");
  assert.equal(bound.assumed?.has("kubernetesVersion"), false);
  // Parameters without fromCluster ignore facts.
  assert.deepEqual(bound.values.featureGates, []);
});

test("a value given on the command line wins over the fact", () => {
  assert.equal(bindParameters(set, { kubernetesVersion: "v1.34.0" }, { serverVersion: "v1.33.13" }).values.kubernetesVersion, "v1.34.0");
});

test("a fact the parameter's schema refuses is left out: the default stands", () => {
  assert.equal(bindParameters(set, {}, { serverVersion: "not-a-version" }).values.kubernetesVersion, null);
  assert.equal(bindParameters(set, {}).values.kubernetesVersion, null);
});
