import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-resource-limits";

/** vm-basic.yaml on a class without sizing policies, so only the platform-wide limits apply. */
function vm(cores: number, size = "8Gi"): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as { virtualMachineClassName: string; cpu: { cores: number }; memory: { size: string } };
  spec.virtualMachineClassName = "unsized";
  spec.cpu.cores = cores;
  spec.memory.size = size;
  return object;
}

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: [fixture("vm/class-unsized.yaml")], ...opts });
}

const denials = (object: JsonObject) => run({ object }).denials;

describe(POLICY, () => {
  test("up to 248 cores on the topology grid and up to 1024Gi are allowed", () => {
    for (const cores of [1, 7, 16, 18, 32, 36, 64, 72, 248]) assert.deepEqual(denials(vm(cores)), [], `${cores} cores`);
    for (const size of ["1024Gi", "1Ti", "1048576Mi", "1099511627776"]) assert.deepEqual(denials(vm(4, size)), [], size);
  });

  test("more than 248 cores is denied", () => {
    assert.deepEqual(denials(vm(249)), [`[${POLICY}] spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores. Set spec.cpu.cores to 248 or fewer`]);
    assert.equal(denials(vm(256)).length, 1, "a count above 248 gets no topology message on top");
  });

  test("a core count off the socket topology is denied, naming the multiple and the nearest counts", () => {
    assert.deepEqual(denials(vm(17)), [
      `[${POLICY}] spec.cpu.cores is 17; between 17 and 32 cores the count must be a multiple of 2 (the cores are split evenly across 2 sockets). Use 16 or 18 cores`,
    ]);
    assert.match(denials(vm(34)).join(), /spec\.cpu\.cores is 34; between 33 and 64 cores the count must be a multiple of 4 .*Use 32 or 36 cores$/);
    assert.match(denials(vm(66)).join(), /spec\.cpu\.cores is 66; between 65 and 248 cores the count must be a multiple of 8 .*Use 64 or 72 cores$/);
    assert.match(denials(vm(247)).join(), /multiple of 8 .*Use 240 or 248 cores$/);
  });

  test("more than 1024Gi of memory is denied, quoting the size as written", () => {
    assert.deepEqual(denials(vm(4, "1025Gi")), [
      `[${POLICY}] spec.memory.size is 1025Gi; a VirtualMachine may have at most 1024Gi of memory. Set spec.memory.size to 1024Gi or less`,
    ]);
    assert.match(denials(vm(4, "1.5Ti")).join(), /spec\.memory\.size is 1\.5Ti;/);
    assert.match(denials(vm(4, "1100G")).join(), /spec\.memory\.size is 1100G;/);
  });

  test("every violation is reported", () => {
    const found = denials(vm(249, "2Ti"));
    assert.equal(found.length, 2);
    assert.match(found[0] ?? "", /cores is 249/);
    assert.match(found[1] ?? "", /memory\.size is 2Ti/);
  });

  test("UPDATEs are checked, except of a VirtualMachine being deleted", () => {
    assert.equal(run({ object: vm(300), oldObject: vm(4) }).denials.length, 1);
    const deleting = vm(300, "4Ti");
    (deleting.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(run({ object: deleting, oldObject: vm(4) }).denials, []);
  });

  test("malformed VirtualMachines the CRD would reject do not break the policy", () => {
    const noCpu = vm(4);
    delete (noCpu.spec as JsonObject).cpu;
    const stringCores = vm(4);
    (stringCores.spec as { cpu: JsonObject }).cpu.cores = "300";
    const noSpec = vm(4);
    delete noSpec.spec;
    for (const object of [noCpu, stringCores, noSpec]) assert.deepEqual(denials(object).filter((d) => d.startsWith(`[${POLICY}]`)), []);
  });

  test("a memory size that is not a quantity is denied, never read as zero", () => {
    for (const size of ["a lot", "1e400Gi", "8 Gi", "1e1.5", "0x10", ""]) {
      assert.deepEqual(denials(vm(4, size)), [
        `[${POLICY}] spec.memory.size is "${size}", which is not a resource quantity; a VirtualMachine may have at most 1024Gi of memory. Set spec.memory.size to a quantity such as 8Gi, at most 1024Gi`,
      ]);
    }
  });

  test("a negative or zero memory size is denied", () => {
    for (const size of ["-8Gi", "-1", "0", "0Gi", "-0.5"]) {
      assert.deepEqual(denials(vm(4, size)), [
        `[${POLICY}] spec.memory.size is ${size}; a VirtualMachine needs a positive amount of memory, at most 1024Gi. Set spec.memory.size to a size such as 8Gi`,
      ]);
    }
  });

  test("sizes beyond the limit in any notation are denied, quoting the value as written and the limit", () => {
    for (const size of ["1e30", "99999999999999999999999Ei", "1025Gi", "1.0000001Ti", "1099511627777", "1099511627776001m", "1.1e12", "9223372036854775808", "2E", "1Pi"]) {
      assert.deepEqual(denials(vm(4, size)), [
        `[${POLICY}] spec.memory.size is ${size}; a VirtualMachine may have at most 1024Gi of memory. Set spec.memory.size to 1024Gi or less`,
      ], size);
    }
  });

  test("the limits are parameters an operator can tighten", () => {
    const tight = { maxCores: 64, maxMemory: "256Gi" };
    assert.deepEqual(run({ object: vm(64, "256Gi"), params: tight }).denials, []);
    assert.deepEqual(run({ object: vm(72, "257Gi"), params: tight }).denials, [
      `[${POLICY}] spec.cpu.cores is 72; a VirtualMachine may have at most 64 cores. Set spec.cpu.cores to 64 or fewer`,
      `[${POLICY}] spec.memory.size is 257Gi; a VirtualMachine may have at most 256Gi of memory. Set spec.memory.size to 256Gi or less`,
    ]);
    const topology = { socketTopology: [{ minCores: 1, maxCores: 8, sockets: 1 }, { minCores: 9, maxCores: 248, sockets: 4 }] };
    assert.deepEqual(run({ object: vm(12, "8Gi"), params: topology }).denials, []);
    assert.deepEqual(run({ object: vm(10, "8Gi"), params: topology }).denials, [
      `[${POLICY}] spec.cpu.cores is 10; between 9 and 248 cores the count must be a multiple of 4 (the cores are split evenly across 4 sockets). Use 8 or 12 cores`,
    ]);
  });
});
