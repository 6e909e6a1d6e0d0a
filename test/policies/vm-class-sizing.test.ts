import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly as run } from "../support/judge.js";

const POLICY = "vm-class-sizing";

type Spec = { cpu: { cores: number; coreFraction?: string }; memory: { size: string }; virtualMachineClassName: string } & JsonObject;

/** vm-basic.yaml on the tiered class with the given CPU and memory (coreFraction null: left out). */
function vm(cores: number, size: string, coreFraction: string | null = "50%"): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as Spec;
  spec.virtualMachineClassName = "tiered";
  spec.cpu.cores = cores;
  if (coreFraction === null) delete spec.cpu.coreFraction;
  else spec.cpu.coreFraction = coreFraction;
  spec.memory.size = size;
  return object;
}


const mine = (messages: string[]) => messages.filter((m) => m.startsWith(`[${POLICY}] `));

for (const version of ["v1alpha2", "v1alpha3"]) {
  const tiered = () => fixture(`vm/class-tiered-${version}.yaml`);
  const check = (object: JsonObject, context: JsonObject[] = [tiered()]) => run({ object, context });

  describe(`${POLICY} against a ${version} class`, () => {
    test("a VirtualMachine inside its sizing policy is allowed", () => {
      for (const object of [vm(4, "2Gi"), vm(1, "1Gi", "5%"), vm(4, "8Gi", "100%"), vm(2, "1.5Gi"), vm(8, "12Gi"), vm(12, "24Gi", "20%"), vm(20, "32Gi", "33%")]) {
        const j = check(object);
        assert.deepEqual(mine(j.denials), [], JSON.stringify((object.spec as Spec).cpu));
        assert.equal(j.verdict.allowed, true);
      }
    });

    test("cores outside every policy range are denied with the allowed ranges", () => {
      const j = check(vm(5, "5Gi"));
      assert.deepEqual(mine(j.denials), [
        `[${POLICY}] spec.cpu.cores is 5; VirtualMachineClass "tiered" has no sizing policy for that many cores (allowed core ranges: 1-4, 6-12, 16-32). Set spec.cpu.cores within one of these ranges or choose another class`,
      ]);
      assert.equal(j.response.status?.code, 403);
    });

    test("a core fraction the policy does not list is denied with the allowed ones", () => {
      const j = check(vm(2, "2Gi", "30%"));
      assert.deepEqual(mine(j.denials), [
        `[${POLICY}] spec.cpu.coreFraction is 30%; the sizing policy of VirtualMachineClass "tiered" for 1-4 cores allows only 5%, 10%, 20%, 50%, 100%. Set spec.cpu.coreFraction to one of these`,
      ]);
    });

    test("an absent core fraction is checked as the policy default, else 100%", () => {
      // Policy 6-12 defaults to 50%; policy 1-4 has no default, and lists 100%.
      assert.deepEqual(mine(check(vm(8, "12Gi", null)).denials), []);
      assert.deepEqual(mine(check(vm(2, "2Gi", null)).denials), []);
      const narrowed = tiered();
      const policies = (narrowed.spec as { sizingPolicies: JsonObject[] }).sizingPolicies;
      const second = policies[1] as JsonObject;
      delete second.defaultCoreFraction;
      second.coreFractions = version === "v1alpha2" ? [20, 50] : ["20%", "50%"];
      assert.deepEqual(mine(check(vm(8, "12Gi", null), [narrowed]).denials), [
        `[${POLICY}] spec.cpu.coreFraction is not set and defaults to 100%; the sizing policy of VirtualMachineClass "tiered" for 6-12 cores allows only 20%, 50%. Set spec.cpu.coreFraction to one of these`,
      ]);
    });

    test("an empty coreFractions list constrains nothing", () => {
      assert.deepEqual(mine(check(vm(24, "32Gi", "1%")).denials), []);
    });

    test("cores off the policy's step grid are denied with the nearest valid counts", () => {
      assert.deepEqual(mine(check(vm(7, "10752Mi")).denials), [
        `[${POLICY}] spec.cpu.cores is 7; the sizing policy of VirtualMachineClass "tiered" for 6-12 cores allows core counts from 6 in steps of 2 (and 12). Use 6 or 8 cores`,
      ]);
      assert.match(mine(check(vm(11, "22Gi")).denials).join(), /spec\.cpu\.cores is 11; .* Use 10 or 12 cores$/);
      assert.match(mine(check(vm(18, "32Gi")).denials).join(), /spec\.cpu\.cores is 18; .*for 16-32 cores .* Use 16 or 20 cores$/);
    });

    test("memory outside the policy range is denied with the bound to use", () => {
      assert.deepEqual(mine(check(vm(2, "16Gi")).denials), [
        `[${POLICY}] spec.memory.size is 16Gi; the sizing policy of VirtualMachineClass "tiered" for 1-4 cores allows 1Gi to 8Gi of memory. Set spec.memory.size to 8Gi or less`,
      ]);
      assert.deepEqual(mine(check(vm(2, "512Mi")).denials), [
        `[${POLICY}] spec.memory.size is 512Mi; the sizing policy of VirtualMachineClass "tiered" for 1-4 cores allows 1Gi to 8Gi of memory. Set spec.memory.size to 1Gi or more`,
      ]);
      assert.match(mine(check(vm(20, "8Gi")).denials).join(), /spec\.memory\.size is 8Gi; .*for 16-32 cores allows 16Gi to 64Gi of memory\. Set spec\.memory\.size to 16Gi or more$/);
    });

    test("memory off the policy's step grid is denied with the nearest valid sizes", () => {
      assert.deepEqual(mine(check(vm(2, "1800Mi")).denials), [
        `[${POLICY}] spec.memory.size is 1800Mi; the sizing policy of VirtualMachineClass "tiered" for 1-4 cores allows memory sizes from 1Gi to 8Gi in steps of 512Mi. Use 1536Mi or 2Gi`,
      ]);
      // The grid starts at memory.min, not at zero, and ends at memory.max even off the step.
      const shifted = tiered();
      const first = (shifted.spec as { sizingPolicies: { memory: JsonObject }[] }).sizingPolicies[0] as { memory: JsonObject };
      first.memory = { min: "1000Mi", max: "3000Mi", step: "1Gi" };
      assert.deepEqual(mine(check(vm(2, "3000Mi"), [shifted]).denials), []);
      assert.deepEqual(mine(check(vm(2, "2024Mi"), [shifted]).denials), []);
      assert.match(mine(check(vm(2, "1500Mi"), [shifted]).denials).join(), /spec\.memory\.size is 1500Mi; .* from 1000Mi to 3000Mi in steps of 1Gi\. Use 1000Mi or 2024Mi$/);
      assert.match(mine(check(vm(2, "2900Mi"), [shifted]).denials).join(), /Use 2024Mi or 3000Mi$/);
    });

    test("memory per core outside the policy's perCore range is denied with totals for the core count", () => {
      assert.deepEqual(mine(check(vm(8, "20Gi")).denials), [
        `[${POLICY}] spec.memory.size is 20Gi, 2560Mi per core for 8 cores; the sizing policy of VirtualMachineClass "tiered" for 6-12 cores allows 1Gi to 2Gi per core, that is 8Gi to 16Gi for 8 cores. Set spec.memory.size to 16Gi or less, or change spec.cpu.cores`,
      ]);
      assert.match(mine(check(vm(8, "6Gi")).denials).join(), /spec\.memory\.size is 6Gi, 768Mi per core for 8 cores; .* Set spec\.memory\.size to 8Gi or more, or change spec\.cpu\.cores$/);
    });

    test("memory per core off the step grid is denied with the nearest valid totals", () => {
      assert.deepEqual(mine(check(vm(8, "10Gi")).denials), [
        `[${POLICY}] spec.memory.size is 10Gi, 1280Mi per core for 8 cores; the sizing policy of VirtualMachineClass "tiered" for 6-12 cores allows memory per core from 1Gi to 2Gi in steps of 512Mi. Use 8Gi or 12Gi of memory for 8 cores, or change spec.cpu.cores`,
      ]);
      // floor(size/cores) is what counts: 12Gi + 1 byte still gives 1.5Gi per core.
      assert.deepEqual(mine(check(vm(8, "12884901889")).denials), []);
    });

    test("sizes that are not positive quantities or lie far beyond the range are denied, quoting the value and the bound", () => {
      const range = (size: string, bound: string) => [
        `[${POLICY}] spec.memory.size is ${size}; the sizing policy of VirtualMachineClass "tiered" for 1-4 cores allows 1Gi to 8Gi of memory. Set spec.memory.size to ${bound}`,
      ];
      for (const size of ["1e30", "99999999999999999999999Ei", "8589934593", "8.0000001Gi", "9E"]) assert.deepEqual(mine(check(vm(2, size)).denials), range(size, "8Gi or less"), size);
      for (const size of ["-8Gi", "1e400Gi", "0", "many"]) {
        assert.deepEqual(mine(check(vm(2, size)).denials), range(`"${size}", which is not a positive resource quantity`, "1Gi or more"), size);
      }
      // Per core: 8 cores at 1Gi to 2Gi each.
      const perCore = (size: string, bound: string) => [
        `[${POLICY}] spec.memory.size is ${size}; the sizing policy of VirtualMachineClass "tiered" for 6-12 cores allows 1Gi to 2Gi per core, that is 8Gi to 16Gi for 8 cores. Set spec.memory.size to ${bound}, or change spec.cpu.cores`,
      ];
      for (const size of ["1e30", "99999999999999999999999Ei"]) assert.deepEqual(mine(check(vm(8, size)).denials), perCore(size, "16Gi or less"), size);
      for (const size of ["-8Gi", "1e400Gi"]) {
        assert.deepEqual(mine(check(vm(8, size)).denials), perCore(`"${size}", which is not a positive resource quantity`, "8Gi or more"), size);
      }
    });

    test("every violation is reported, each on its own", () => {
      const j = check(vm(7, "20Gi", "30%"));
      const denials = mine(j.denials);
      assert.equal(denials.length, 3, denials.join("\n"));
      assert.match(denials[0] ?? "", /coreFraction is 30%.* allows only 20%, 50%, 100%/);
      assert.match(denials[1] ?? "", /cores is 7; .*Use 6 or 8 cores/);
      assert.match(denials[2] ?? "", /spec\.memory\.size is 20Gi, about 2925Mi per core for 7 cores;/);
      assert.match(denials[2] ?? "", /that is 7Gi to 14Gi for 7 cores\. Set spec\.memory\.size to 14Gi or less/);
    });

    test("UPDATEs are checked as well, except of a VirtualMachine being deleted", () => {
      const old = vm(2, "2Gi");
      assert.equal(mine(run({ object: vm(2, "2Gi", "30%"), oldObject: old, context: [tiered()] }).denials).length, 1);
      const deleting = vm(5, "100Gi", "30%");
      (deleting.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
      const j = run({ object: deleting, oldObject: old, context: [tiered()] });
      assert.deepEqual(j.denials, []);
      assert.deepEqual(j.warnings, []);
    });
  });
}

describe(`${POLICY}: classes that do not constrain`, () => {
  test("a missing class is allowed with a warning that names it", () => {
    const j = run({ object: vm(3, "3Gi"), context: [] });
    assert.equal(j.verdict.allowed, true);
    assert.deepEqual(mine(j.warnings), [
      `[${POLICY}] spec.virtualMachineClassName is tiered, but VirtualMachineClass "tiered" does not exist yet; the VirtualMachine stays Pending until it is created. Create the class or check the name`,
    ]);
  });

  test("a class without sizing policies allows any size", () => {
    const object = vm(13, "777Mi", "3%");
    (object.spec as Spec).virtualMachineClassName = "unsized";
    const j = run({ object, context: [fixture("vm/class-unsized.yaml")] });
    assert.deepEqual(mine([...j.denials, ...j.warnings]), []);
  });

  test("quantities stored as integers are read as bytes and quoted as written", () => {
    const cls = fixture("vm/class-tiered-v1alpha2.yaml");
    const first = (cls.spec as { sizingPolicies: { memory: JsonObject }[] }).sizingPolicies[0] as { memory: JsonObject };
    first.memory = { min: 1073741824, max: 8589934592, step: 536870912 };
    assert.deepEqual(mine(run({ object: vm(2, "1536Mi"), context: [cls] }).denials), []);
    assert.match(mine(run({ object: vm(2, "9Gi"), context: [cls] }).denials).join(), /allows 1073741824 to 8589934592 of memory\. Set spec\.memory\.size to 8589934592 or less$/);
    assert.match(mine(run({ object: vm(2, "1800Mi"), context: [cls] }).denials).join(), /Use 1536Mi or 2Gi$/);
  });

  test("malformed VirtualMachines the CRD would reject do not break the policy", () => {
    const cases: ((o: JsonObject) => void)[] = [
      (o) => delete (o.spec as JsonObject).cpu,
      (o) => delete (o.spec as JsonObject).memory,
      (o) => ((o.spec as Spec).memory = { size: "lots" }),
      (o) => delete (o.spec as JsonObject).virtualMachineClassName,
      (o) => ((o.spec as JsonObject).cpu = { cores: "four" }),
      (o) => ((o.spec as JsonObject).cpu = { cores: 0 }),
      (o) => ((o.spec as Spec).cpu.coreFraction = "half"),
      (o) => delete o.spec,
    ];
    for (const mutate of cases) {
      const object = vm(8, "12Gi");
      mutate(object);
      const j = run({ object, context: [fixture("vm/class-tiered-v1alpha3.yaml")] });
      for (const m of mine(j.denials)) assert.doesNotMatch(m, /could not be evaluated/);
    }
  });
});
