import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-static-ip";

function vm(ipName: string | undefined, networks?: JsonObject[]): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const spec = object.spec as JsonObject;
  if (ipName !== undefined) spec.virtualMachineIPAddressName = ipName;
  if (networks !== undefined) spec.networks = networks;
  return object;
}

const base = () => [fixture("class/host-sized-v1alpha3.yaml")];
const withCidrs = () => [...base(), fixture("moduleconfig/virtualization.yaml")];
const withoutCidrs = () => [...base(), fixture("vm/moduleconfig-no-cidrs.yaml")];

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: withCidrs(), params: { featureGates: ["SDN"] }, ...opts });
}

const mine = (j: Judgement) => j.denials.filter((d) => d.startsWith(`[${POLICY}] `));

describe(`${POLICY}: spec.virtualMachineIPAddressName`, () => {
  test("with CIDRs and the Main network (explicit or implied) a named address is allowed", () => {
    assert.deepEqual(run({ object: vm("vmip", [{ type: "Main" }]) }).denials, []);
    assert.deepEqual(run({ object: vm("vmip") }).denials, []);
    assert.deepEqual(run({ object: vm("vmip", [{ type: "Main" }, { type: "Network", name: "storage" }]) }).denials, []);
  });

  test("without CIDRs a named address is denied", () => {
    assert.deepEqual(mine(run({ object: vm("vmip", [{ type: "Main" }]), context: withoutCidrs() })), [
      `[${POLICY}] spec.virtualMachineIPAddressName is vmip, but the virtualization ModuleConfig has no spec.settings.virtualMachineCIDRs, so no VirtualMachineIPAddress can be used. Remove spec.virtualMachineIPAddressName, or have the administrator configure virtualMachineCIDRs`,
    ]);
  });

  test("without the Main network a named address is denied", () => {
    assert.deepEqual(mine(run({ object: vm("vmip", [{ type: "Network", name: "test" }]) })), [
      `[${POLICY}] spec.virtualMachineIPAddressName is vmip, but spec.networks does not include the Main network, the only network a VirtualMachineIPAddress applies to. Add the Main network as the first entry of spec.networks, or remove spec.virtualMachineIPAddressName`,
    ]);
    assert.equal(mine(run({ object: vm("vmip", [{ type: "Network", name: "test" }]), context: withoutCidrs() })).length, 2, "both reasons at once");
  });

  test("UPDATE: setting the name, or changing the networks under it, is checked; unrelated edits are not", () => {
    assert.equal(mine(run({ object: vm("vmip", [{ type: "Main" }]), oldObject: vm(undefined, [{ type: "Main" }]), context: withoutCidrs() })).length, 1);
    const extra = vm("vmip", [{ type: "Main" }, { type: "Network", name: "extra" }]);
    assert.equal(mine(run({ object: extra, oldObject: vm("vmip", [{ type: "Main" }]), context: withoutCidrs() })).length, 1);
    const touched = vm("vmip", [{ type: "Main" }]);
    (touched.metadata as JsonObject).finalizers = ["test-finalizer"];
    assert.deepEqual(mine(run({ object: touched, oldObject: vm("vmip", [{ type: "Main" }]), context: withoutCidrs() })), []);
  });

  test("a VirtualMachine being deleted is not checked", () => {
    const object = vm("vmip", [{ type: "Network", name: "x" }]);
    (object.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(mine(run({ object, oldObject: vm(undefined), context: withoutCidrs() })), []);
  });
});

describe(`${POLICY}: an address already reserved under the VirtualMachine's name`, () => {
  const reserved = () => [...withCidrs(), fixture("vm/vmip-linux-vm.yaml")];

  test("on CREATE it must be referenced explicitly", () => {
    assert.deepEqual(mine(run({ object: vm(undefined), context: reserved() })), [
      `[${POLICY}] spec.virtualMachineIPAddressName is not set, but VirtualMachineIPAddress "linux-vm" already exists in namespace tenant-a (address 10.66.10.23); a VirtualMachine does not take it over implicitly. Set spec.virtualMachineIPAddressName to linux-vm to use it, or delete that VirtualMachineIPAddress`,
    ]);
    assert.deepEqual(mine(run({ object: vm("linux-vm"), context: reserved() })), []);
    assert.deepEqual(mine(run({ object: vm("other"), context: reserved() })), []);
  });

  test("an address of the same name in another namespace does not count, nor does UPDATE", () => {
    const elsewhere = fixture("vm/vmip-linux-vm.yaml");
    (elsewhere.metadata as JsonObject).namespace = "tenant-b";
    assert.deepEqual(mine(run({ object: vm(undefined), context: [...withCidrs(), elsewhere] })), []);
    assert.deepEqual(mine(run({ object: vm(undefined), oldObject: vm(undefined), context: reserved() })), []);
  });
});
