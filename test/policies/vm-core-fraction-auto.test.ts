import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly as run } from "../support/judge.js";

const POLICY = "vm-core-fraction-auto";
const GATES = ["VerticalVirtualMachineAutoscaler", "HotplugCPUAndMemoryWithInPlaceResize"];

type Cpu = { cores: number; coreFraction?: string };

function vm(className: string, cores: number, coreFraction: string | null): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as { virtualMachineClassName: string; cpu: Cpu };
  spec.virtualMachineClassName = className;
  spec.cpu = coreFraction === null ? { cores } : { cores, coreFraction };
  return object;
}


const mine = (messages: string[]) => messages.filter((m) => m.startsWith(`[${POLICY}] `));

for (const version of ["v1alpha2", "v1alpha3"]) {
  const context = () => [fixture(`vm/class-autoscaled-${version}.yaml`), fixture(`vm/class-tiered-${version}.yaml`)];

  describe(`${POLICY} with a ${version} class`, () => {
    test("Auto with both gates and a policy leaving several fractions is allowed", () => {
      for (const object of [vm("autoscaled", 4, "Auto"), vm("tiered", 2, "Auto"), vm("autoscaled", 20, "Auto")]) {
        const j = run({ object, context: context(), params: { featureGates: ["SDN", ...GATES] } });
        assert.deepEqual(j.denials, []);
      }
    });

    test("Auto without the gates is denied once per missing gate", () => {
      const j = run({ object: vm("autoscaled", 4, "Auto"), context: context(), params: { featureGates: ["SDN"] } });
      assert.deepEqual(mine(j.denials), [
        `[${POLICY}] spec.cpu.coreFraction is Auto; the automatic core fraction needs the VerticalVirtualMachineAutoscaler feature gate, which the virtualization controller does not run with (its gates: SDN). Set spec.cpu.coreFraction to a percentage such as 50%, or have the administrator enable vertical VirtualMachine autoscaling (an EE edition with the vertical-pod-autoscaler module)`,
        `[${POLICY}] spec.cpu.coreFraction is Auto; the automatic core fraction needs the HotplugCPUAndMemoryWithInPlaceResize feature gate (in-place CPU and memory resize), which the virtualization controller does not run with (its gates: SDN). Set spec.cpu.coreFraction to a percentage such as 50%, or have the administrator enable the gate`,
      ]);
      const one = run({ object: vm("autoscaled", 4, "Auto"), context: context(), params: { featureGates: ["VerticalVirtualMachineAutoscaler"] } });
      assert.equal(mine(one.denials).length, 1);
      assert.match(mine(one.denials)[0] ?? "", /needs the HotplugCPUAndMemoryWithInPlaceResize feature gate/);
      const none = run({ object: vm("autoscaled", 4, "Auto"), context: context() });
      assert.match(mine(none.denials)[0] ?? "", /\(its gates: none\)/);
    });

    test("Auto is denied when the policy leaves fewer than 2 fractions below 100%", () => {
      const j = run({ object: vm("autoscaled", 12, "Auto"), context: context(), params: { featureGates: GATES } });
      assert.deepEqual(mine(j.denials), [
        `[${POLICY}] spec.cpu.coreFraction is Auto; the sizing policy of VirtualMachineClass "autoscaled" for 9-16 cores allows only 50%, 100%, which leaves the autoscaler only 50% below 100% to choose from (it needs at least 2; 100% is never chosen automatically). Set spec.cpu.coreFraction to one of the allowed values, or ask the administrator to allow more core fractions`,
      ]);
      // The sizing policy's own coreFraction check leaves Auto alone: it is a mode, not a share.
      assert.deepEqual(j.denials.filter((d) => d.startsWith("[vm-class-sizing]")), []);
    });

    test("an absent coreFraction is checked as the class default", () => {
      const j = run({ object: vm("autoscaled", 4, null), context: context(), params: { featureGates: ["HotplugCPUAndMemoryWithInPlaceResize"] } });
      assert.deepEqual(mine(j.denials), [
        `[${POLICY}] spec.cpu.coreFraction is not set and defaults to Auto (the defaultCoreFraction of VirtualMachineClass "autoscaled"); the automatic core fraction needs the VerticalVirtualMachineAutoscaler feature gate, which the virtualization controller does not run with (its gates: HotplugCPUAndMemoryWithInPlaceResize). Set spec.cpu.coreFraction to a percentage such as 50%, or have the administrator enable vertical VirtualMachine autoscaling (an EE edition with the vertical-pod-autoscaler module)`,
      ]);
      // Defaults other than Auto need no gate.
      assert.deepEqual(run({ object: vm("tiered", 8, null), context: context() }).denials, []);
    });

    test("UPDATE is checked only on the transition into Auto", () => {
      const ctx = context();
      const into = run({ object: vm("autoscaled", 4, "Auto"), oldObject: vm("autoscaled", 4, "50%"), context: ctx });
      assert.equal(mine(into.denials).length, 2);
      // A VirtualMachine already on Auto stays editable after the gates are gone or the class narrows.
      const stays = run({ object: vm("autoscaled", 4, "Auto"), oldObject: vm("autoscaled", 4, "Auto"), context: ctx });
      assert.deepEqual(stays.denials, []);
      const narrowed = run({ object: vm("autoscaled", 12, "Auto"), oldObject: vm("autoscaled", 12, "Auto"), context: ctx, params: { featureGates: GATES } });
      assert.deepEqual(narrowed.denials, []);
      // Explicit Auto over a defaulted Auto is no transition either.
      assert.deepEqual(run({ object: vm("autoscaled", 4, "Auto"), oldObject: vm("autoscaled", 4, null), context: ctx }).denials, []);
      // Leaving Auto is always fine.
      assert.deepEqual(run({ object: vm("autoscaled", 4, "50%"), oldObject: vm("autoscaled", 4, "Auto"), context: ctx }).denials, []);
    });
  });
}

describe(`${POLICY}: edge cases`, () => {
  test("a missing class only needs the gates (the class may come later)", () => {
    const allowed = run({ object: vm("later", 4, "Auto"), params: { featureGates: GATES } });
    assert.deepEqual(allowed.denials, []);
    assert.match(allowed.warnings.join(), /VirtualMachineClass "later" does not exist yet/);
    assert.equal(mine(run({ object: vm("later", 4, "Auto") }).denials).length, 2);
  });

  test("a VirtualMachine being deleted is not checked", () => {
    const object = vm("autoscaled", 12, "Auto");
    (object.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(run({ object, oldObject: vm("autoscaled", 12, "50%"), context: [fixture("vm/class-autoscaled-v1alpha3.yaml")] }).denials, []);
  });

  test("malformed VirtualMachines do not break the policy: it judges what is there", () => {
    const noCpu = vm("autoscaled", 4, "Auto");
    delete (noCpu.spec as JsonObject).cpu;
    const noClass = vm("autoscaled", 4, "Auto");
    delete (noClass.spec as JsonObject).virtualMachineClassName;
    const stringCores = vm("autoscaled", 4, null);
    (stringCores.spec as { cpu: JsonObject }).cpu.cores = "4";
    const autoStringCores = vm("autoscaled", 4, "Auto");
    (autoStringCores.spec as { cpu: JsonObject }).cpu.cores = "4";
    const context = [fixture("vm/class-autoscaled-v1alpha3.yaml")];
    // No fraction at all: nothing for this policy to say.
    assert.deepEqual(mine(run({ object: noCpu, context }).denials), []);
    assert.deepEqual(mine(run({ object: stringCores, context }).denials), []);
    // Auto without a class still needs both gates (none are on here).
    const gates = mine(run({ object: noClass, context }).denials).map((d) => /needs the (\w+) feature gate/.exec(d)?.[1]);
    assert.deepEqual(gates, GATES);
    // With both gates on, none of them is denied.
    for (const object of [noCpu, noClass, stringCores, autoStringCores]) assert.deepEqual(mine(run({ object, context, params: { featureGates: GATES } }).denials), [], JSON.stringify(object.spec));
  });
});
