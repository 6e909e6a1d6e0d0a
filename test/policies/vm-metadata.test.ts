import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-metadata";

function vm(metadata: JsonObject = {}): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  Object.assign(object.metadata as JsonObject, metadata);
  return object;
}

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: [fixture("class/host-sized-v1alpha3.yaml")], ...opts });
}

describe(POLICY, () => {
  test("a name of up to 63 characters and ordinary keys are allowed", () => {
    const j = run({ object: vm({ name: "a".repeat(63), labels: { app: "web", "example.com/tier": "db" }, annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" } }) });
    assert.deepEqual(j.denials, []);
  });

  test("on CREATE a name longer than 63 characters is denied", () => {
    const name = "vm-" + "x".repeat(61);
    assert.deepEqual(run({ object: vm({ name }) }).denials, [
      `[${POLICY}] metadata.name is ${name} (64 characters); a VirtualMachine name may have at most 63 characters. Choose a name of 63 characters or fewer`,
    ]);
    // An existing VirtualMachine keeps its name: UPDATE does not check it.
    assert.deepEqual(run({ object: vm({ name }), oldObject: vm({ name }) }).denials, []);
  });

  test("label and annotation keys containing kubevirt.io are denied, each listed", () => {
    const j = run({ object: vm({ labels: { "kubevirt.io/domain": "x", app: "web", "vm.kubevirt.io/name": "y" }, annotations: { "kubevirt.io/latest-observed-api-version": "v1" } }) });
    assert.deepEqual(j.denials, [
      `[${POLICY}] metadata.labels has the keys kubevirt.io/domain, vm.kubevirt.io/name; label keys of a VirtualMachine may not contain kubevirt.io, which is reserved for the KubeVirt objects the platform manages. Remove or rename the labels`,
      `[${POLICY}] metadata.annotations has the key kubevirt.io/latest-observed-api-version; annotation keys of a VirtualMachine may not contain kubevirt.io, which is reserved for the KubeVirt objects the platform manages. Remove or rename the annotation`,
    ]);
  });

  test("keys are checked on UPDATE too, but not for a VirtualMachine being deleted", () => {
    assert.equal(run({ object: vm({ labels: { "kubevirt.io/x": "1" } }), oldObject: vm() }).denials.length, 1);
    const deleting = vm({ labels: { "kubevirt.io/x": "1" }, deletionTimestamp: "2025-01-01T00:00:00Z" });
    assert.deepEqual(run({ object: deleting, oldObject: vm() }).denials, []);
  });
});
