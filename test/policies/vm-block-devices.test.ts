import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-block-devices";

function vm(refs: JsonObject[]): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  (object.spec as JsonObject).blockDeviceRefs = refs;
  return object;
}

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: [fixture("class/host-sized-v1alpha3.yaml")], ...opts });
}

const denials = (refs: JsonObject[]) => run({ object: vm(refs) }).denials;
const disk = (name: string, bootOrder?: number): JsonObject => (bootOrder === undefined ? { kind: "VirtualDisk", name } : { kind: "VirtualDisk", name, bootOrder });

describe(POLICY, () => {
  test("distinct devices with distinct boot orders are allowed", () => {
    assert.deepEqual(denials([disk("root")]), []);
    assert.deepEqual(denials([disk("root", 1), disk("data"), { kind: "VirtualImage", name: "root" }, { kind: "ClusterVirtualImage", name: "iso", bootOrder: 2 }]), []);
    const full = fixture("vm/vm-full.yaml");
    assert.deepEqual(run({ object: full }).denials.filter((d) => d.startsWith(`[${POLICY}]`)), []);
  });

  test("the same device listed twice is denied, whatever its boot order", () => {
    assert.deepEqual(denials([disk("root"), disk("data"), disk("root")]), [
      `[${POLICY}] spec.blockDeviceRefs lists VirtualDisk "root" more than once; a block device may be attached to a VirtualMachine only once. Remove the duplicate entries`,
    ]);
    assert.match(denials([disk("root", 1), disk("root", 2)]).join(), /lists VirtualDisk "root" more than once/);
  });

  test("a boot order below 1 is denied", () => {
    assert.deepEqual(denials([disk("root", 0), disk("data")]), [
      `[${POLICY}] spec.blockDeviceRefs: VirtualDisk "root" has bootOrder 0; boot orders start at 1. Set bootOrder to 1 or more, or leave it out`,
    ]);
  });

  test("two devices with the same boot order are denied, both named", () => {
    assert.deepEqual(denials([disk("root", 1), disk("data"), { kind: "VirtualImage", name: "iso", bootOrder: 1 }]), [
      `[${POLICY}] spec.blockDeviceRefs: VirtualDisk "root" has bootOrder 1, VirtualImage "iso" has bootOrder 1; each device needs its own boot order. Give them distinct bootOrder values`,
    ]);
  });

  // DVP admits such a reference (block_device_refs_validator.go: the VirtualMachine stays Pending), so a warning, never a denial.
  test("names longer than their kind allows are warned about, not denied", () => {
    const warnings = (refs: JsonObject[]) => run({ object: vm(refs) }).warnings;
    assert.deepEqual(warnings([disk("d".repeat(60)), { kind: "VirtualImage", name: "i".repeat(49) }, { kind: "ClusterVirtualImage", name: "c".repeat(48) }]), []);
    assert.deepEqual(denials([disk("d".repeat(61))]), []);
    assert.deepEqual(warnings([disk("d".repeat(61))]), [
      `[${POLICY}] spec.blockDeviceRefs: VirtualDisk name ${"d".repeat(61)} has 61 characters, more than the 60 a VirtualDisk name may have. No such object can exist, so the VirtualMachine will stay Pending: check the name`,
    ]);
    assert.match(warnings([{ kind: "VirtualImage", name: "i".repeat(50) }]).join(), /VirtualImage name i+ has 50 characters, more than the 49/);
    assert.match(warnings([{ kind: "ClusterVirtualImage", name: "c".repeat(49) }]).join(), /ClusterVirtualImage name c+ has 49 characters, more than the 48/);
  });

  test("every violation is reported", () => {
    const found = run({ object: vm([disk("root", 0), disk("root", 0), disk("x".repeat(70), 3)]) });
    assert.equal(found.denials.length, 3, found.denials.join("\n"));
    assert.equal(found.warnings.length, 1, found.warnings.join("\n"));
  });

  test("UPDATEs are checked, except of a VirtualMachine being deleted", () => {
    assert.equal(run({ object: vm([disk("a"), disk("a")]), oldObject: vm([disk("a")]) }).denials.length, 1);
    const deleting = vm([disk("a"), disk("a")]);
    (deleting.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(run({ object: deleting, oldObject: vm([disk("a")]) }).denials, []);
  });

  test("malformed lists the CRD would reject do not break the policy", () => {
    for (const refs of [[], [{}], [{ kind: "VirtualDisk" }], [{ name: "x", bootOrder: 1 }, { name: "x", bootOrder: 1 }]] as JsonObject[][]) run({ object: vm(refs) });
    const none = vm([]);
    delete (none.spec as JsonObject).blockDeviceRefs;
    assert.deepEqual(run({ object: none }).denials, []);
  });
});
