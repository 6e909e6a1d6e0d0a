import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-production-guidance";

function vm(spec: JsonObject): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  Object.assign(object.spec as JsonObject, spec);
  return object;
}

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: [fixture("class/host-sized-v1alpha3.yaml")], ...opts });
}

const mine = (j: Judgement) => j.warnings.filter((w) => w.startsWith(`[${POLICY}] `));

describe(POLICY, () => {
  test("a Legacy guest with paravirtualization on, explicitly or by default, gets a warning and is allowed", () => {
    const defaulted = run({ object: vm({ osType: "Legacy" }) });
    assert.equal(defaulted.verdict.allowed, true);
    assert.deepEqual(mine(defaulted), [
      `[${POLICY}] spec.osType is Legacy and spec.enableParavirtualization is not set (defaults to true): Legacy guests lack virtio drivers, so with virtio disks and network the VirtualMachine will likely not boot. Set spec.enableParavirtualization to false unless virtio drivers are installed in the guest`,
    ]);
    assert.match(mine(run({ object: vm({ osType: "Legacy", enableParavirtualization: true }) })).join(), /enableParavirtualization is true:/);
    assert.equal(mine(run({ object: vm({ osType: "Legacy" }), oldObject: vm({ osType: "Legacy" }) })).length, 1, "UPDATEs warn as well");
  });

  test("no warning without paravirtualization or for other OS types", () => {
    assert.deepEqual(mine(run({ object: vm({ osType: "Legacy", enableParavirtualization: false }) })), []);
    assert.deepEqual(mine(run({ object: vm({ osType: "Windows", enableParavirtualization: true }) })), []);
    assert.deepEqual(mine(run({ object: vm({}) })), []);
  });

  test("the generic class gets a production warning", () => {
    const j = run({ object: vm({ virtualMachineClassName: "generic" }) });
    assert.equal(j.verdict.allowed, true);
    assert.deepEqual(mine(j), [
      `[${POLICY}] spec.virtualMachineClassName is generic; the generic VirtualMachineClass is a catch-all default and is not recommended for production workloads. Use a VirtualMachineClass your administrator prepared for production (CPU model and sizing policies suited to your nodes)`,
    ]);
  });

  test("both warnings at once, none while deleting", () => {
    assert.equal(mine(run({ object: vm({ osType: "Legacy", virtualMachineClassName: "generic" }) })).length, 2);
    const deleting = vm({ osType: "Legacy", virtualMachineClassName: "generic" });
    (deleting.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(run({ object: deleting, oldObject: vm({}) }).warnings, []);
  });
});
