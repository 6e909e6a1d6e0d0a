import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";
import { settingsOf, withSetting } from "../support/moduleconfig.js";

const POLICY = "[moduleconfig-feature-gates]";
const INPLACE = "HotplugCPUAndMemoryWithInPlaceResize";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
function withGates(gates: JsonValue[] | undefined, from: JsonObject = fixture("moduleconfig/virtualization.yaml")): JsonObject {
  return withSetting(from, "featureGates", gates);
}
/** An UPDATE from a config with `before` gates to one with `after` gates. */
function enable(before: string[], after: JsonValue[], params: Record<string, JsonValue> = {}): Judgement {
  const old = withGates(before);
  return judge({ object: withGates(after, old), oldObject: old, params });
}
const EE_133 = { edition: "EE", kubernetesVersion: "v1.33.0" };

describe("moduleconfig-feature-gates", () => {
  test("on EE with Kubernetes 1.33 the hotplug gates are allowed", () => {
    assert.deepEqual(enable([], ["HotplugCPUWithLiveMigration", "HotplugMemoryWithLiveMigration", INPLACE], EE_133).denials, []);
  });

  test("SE and SE+ have the gates too", () => {
    assert.deepEqual(enable([], [INPLACE], { edition: "SE", kubernetesVersion: "v1.33.4" }).denials, []);
    assert.deepEqual(enable([], ["GPU"], { edition: "SE+", kubernetesVersion: "1.34" }).denials, []);
  });

  test("CE cannot enable them: every unavailable gate is named", () => {
    const j = enable([], ["HotplugCPUWithLiveMigration", "HotplugMemoryWithLiveMigration"], { edition: "CE", kubernetesVersion: "v1.34.2" });
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.featureGates: HotplugCPUWithLiveMigration, HotplugMemoryWithLiveMigration are not available in the CE edition of DVP. Remove them, or use an edition that includes them (EE, SE, SE+)`,
    ]);
    assert.match(mine(enable([], ["GPU"], { edition: "ce" }))[0] as string, /GPU is not available in the CE edition of DVP/);
  });

  test("the edition defaults to CE", () => {
    assert.match(mine(enable([], [INPLACE]))[0] as string, new RegExp(`${INPLACE} is not available in the CE edition`));
  });

  test("on CE only the edition is reported, not the Kubernetes version", () => {
    const j = enable([], [INPLACE], { edition: "CE", kubernetesVersion: "v1.32.13" });
    assert.equal(mine(j).length, 1);
    assert.match(mine(j)[0] as string, /not available in the CE edition/);
  });

  test("HotplugCPUAndMemoryWithInPlaceResize needs Kubernetes 1.33", () => {
    const j = enable([], [INPLACE], { edition: "EE", kubernetesVersion: "v1.32.13" });
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.featureGates: HotplugCPUAndMemoryWithInPlaceResize needs Kubernetes 1.33 or newer on the control plane and on every node running VMs, but the cluster runs v1.32.13. For CPU and memory hotplug use HotplugCPUWithLiveMigration and HotplugMemoryWithLiveMigration instead, or upgrade Kubernetes`,
    ]);
    assert.deepEqual(enable([], ["HotplugCPUWithLiveMigration"], { edition: "EE", kubernetesVersion: "v1.32.13" }).denials, []);
  });

  test("GPU needs Kubernetes 1.34", () => {
    assert.deepEqual(mine(enable([], ["GPU"], EE_133)), [
      `${POLICY} spec.settings.featureGates: GPU needs Kubernetes 1.34 or newer on the control plane and on every node running VMs, but the cluster runs v1.33.0. Upgrade Kubernetes first`,
    ]);
    assert.deepEqual(enable([], ["GPU"], { edition: "EE", kubernetesVersion: "v1.34.0" }).denials, []);
    assert.deepEqual(enable([], ["GPU"], { edition: "EE", kubernetesVersion: "v2.0" }).denials, []);
  });

  test("both version requirements are named together", () => {
    const j = enable([], [INPLACE, "GPU"], { edition: "EE", kubernetesVersion: "v1.31.1" });
    assert.match(mine(j)[0] as string, /HotplugCPUAndMemoryWithInPlaceResize needs Kubernetes 1\.33 or newer, GPU needs Kubernetes 1\.34 or newer .* runs v1\.31\.1\./);
  });

  test("an unknown Kubernetes version skips the version check", () => {
    assert.deepEqual(enable([], [INPLACE, "GPU"], { edition: "EE" }).denials, []);
  });

  test("version strings with suffixes are read by major and minor", () => {
    assert.match(mine(enable([], [INPLACE], { edition: "EE", kubernetesVersion: "v1.32.4-gke.100" }))[0] as string, /runs v1\.32\.4-gke\.100/);
    assert.deepEqual(enable([], [INPLACE], { edition: "EE", kubernetesVersion: "v1.33.1+k3s1" }).denials, []);
  });

  test("an unknown gate is denied with the list of known gates", () => {
    const j = enable([], ["SDN", "HotplugCPUWithLiveMigration"], EE_133);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.featureGates: SDN is not a feature gate of the virtualization module. Known gates: HotplugCPUWithLiveMigration, HotplugMemoryWithLiveMigration, HotplugCPUAndMemoryWithInPlaceResize, GPU`,
    ]);
  });

  test("only newly added gates are checked", () => {
    // Already enabled (e.g. before a downgrade to CE or to an older Kubernetes): editing other settings still works.
    assert.deepEqual(enable([INPLACE, "GPU"], [INPLACE, "GPU"], { edition: "CE", kubernetesVersion: "v1.30.0" }).denials, []);
    // Removing a gate is always fine.
    assert.deepEqual(enable([INPLACE, "GPU"], [], { edition: "CE", kubernetesVersion: "v1.30.0" }).denials, []);
    // Next to an enabled one, only the added gate is looked at.
    const j = enable([INPLACE], [INPLACE, "GPU"], { edition: "EE", kubernetesVersion: "v1.32.0" });
    assert.equal(mine(j).length, 1);
    assert.match(mine(j)[0] as string, /: GPU needs Kubernetes 1\.34/);
  });

  test("CREATE checks every listed gate", () => {
    const created = withGates(["GPU"]);
    assert.match(mine(judge({ object: created, params: { edition: "CE" } }))[0] as string, /GPU is not available in the CE edition/);
    assert.deepEqual(judge({ object: created, params: { edition: "EE", kubernetesVersion: "v1.34.1" } }).denials, []);
  });

  test("malformed featureGates do not crash", () => {
    assert.deepEqual(enable([], [42, { name: "GPU" }], EE_133).denials, []);
    const j = judge({ object: withGates(undefined), oldObject: withGates(["GPU"]), params: EE_133 });
    assert.deepEqual(j.denials, []);
    const notAList = withGates(undefined);
    settingsOf(notAList).featureGates = "GPU";
    assert.deepEqual(judge({ object: notAList, params: EE_133 }).denials, []);
  });

  test("other ModuleConfigs and unchanged generations are untouched", () => {
    const other = fixture("moduleconfig/other-module.yaml");
    const otherNew = withGates(["GPU"], other);
    assert.deepEqual(judge({ object: otherNew, oldObject: other, params: { edition: "CE" } }).denials, []);
    const old = withGates([]);
    const same = withGates(["GPU"], old);
    (same.metadata as JsonObject).generation = (old.metadata as JsonObject).generation as number;
    assert.deepEqual(judge({ object: same, oldObject: old, params: { edition: "CE" } }).denials, []);
  });
});
