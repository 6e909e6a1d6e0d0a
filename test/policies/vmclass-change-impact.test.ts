import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { bindParameters, evaluate, type JsonObject } from "../../src/engine/index.js";
import { judgeCleanly, shippedPolicies } from "../support/judge.js";
import { admissionRequest } from "../support/review.js";

const POLICY = "[vmclass-change-impact]";

function sizedClass(maxCores: number, extra: JsonObject = {}, generation = 1): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha3",
    kind: "VirtualMachineClass",
    metadata: { name: "compute", generation },
    spec: { cpu: { type: "Host" }, sizingPolicies: [{ cores: { min: 1, max: maxCores }, memory: { min: "1Gi", max: "32Gi" }, coreFractions: ["50%", "100%"], ...extra }] },
  };
}
function vm(name: string, cores: number, opts: { namespace?: string; className?: string; memory?: string } = {}): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name, namespace: opts.namespace ?? "tenant-a" },
    spec: { virtualMachineClassName: opts.className ?? "compute", cpu: { cores, coreFraction: "100%" }, memory: { size: opts.memory ?? `${cores * 2}Gi` }, blockDeviceRefs: [] },
  };
}
const VMS = [vm("two", 2), vm("four", 4), vm("eight", 8, { namespace: "tenant-b" })];

function impact(oldClass: JsonObject, newClass: JsonObject, context: JsonObject[] = VMS, params = {}): string[] {
  const j = judgeCleanly({ object: newClass, oldObject: oldClass, context, params });
  assert.deepEqual(j.denials, []);
  return j.warnings.filter((w) => w.startsWith(POLICY));
}

describe("vmclass-change-impact", () => {
  test("narrowing cores 1-8 to 1-4 is allowed with a warning naming the 8-core VM and not the others", () => {
    assert.deepEqual(impact(sizedClass(8), sizedClass(4, {}, 2)), [
      `${POLICY} spec.sizingPolicies: 1 existing VirtualMachine of VirtualMachineClass "compute" would no longer fit: tenant-b/eight (8 cores, outside every core range (1-4)). They keep running, but their next change is denied until they are resized or moved to another class`,
    ]);
  });

  test("VMs of other classes are not counted", () => {
    assert.deepEqual(impact(sizedClass(8), sizedClass(4, {}, 2), [...VMS.slice(0, 2), vm("eight", 8, { className: "other" })]), []);
  });

  test("a VM with two reasons counts once; the list stops at impactListed, then says there are more", () => {
    const narrowed = sizedClass(8, { memory: { min: "1Gi", max: "4Gi" }, coreFractions: ["50%"] }, 2);
    const [warning] = impact(sizedClass(8), narrowed, VMS, { impactListed: 2 });
    assert.match(warning ?? "", /: 3 existing VirtualMachines of VirtualMachineClass "compute" would no longer fit: /);
    assert.match(warning ?? "", /\(coreFraction 100%, not one of 50% for 1-8 cores\); .*\(coreFraction 100%, not one of 50% for 1-8 cores\).* and 1 more\./);
  });

  test("VMs are found through the class index, never by listing every VM", () => {
    const set = shippedPolicies();
    const store = new ObjectStore(set.indexes);
    for (const o of VMS) store.upsert(o);
    const context = Object.assign(Object.create(store) as ObjectStore, {
      list: (kind: string) => (kind.endsWith("/VirtualMachine") ? assert.fail("listed every VirtualMachine") : store.list(kind)),
    });
    const verdict = evaluate(set, admissionRequest({ object: sizedClass(4, {}, 2), oldObject: sizedClass(8) }), { context, params: bindParameters(set, {}) });
    assert.equal(verdict.warnings.filter((w) => w.policy === "vmclass-change-impact").length, 1);
  });

  test("a CREATE of a class is not an impact question", () => {
    const j = judgeCleanly({ object: sizedClass(4), context: VMS });
    assert.deepEqual(j.warnings.filter((w) => w.startsWith(POLICY)), []);
  });
});

describe("moduleconfig-address-impact", () => {
  const mc = (cidrs: string[], generation: number): JsonObject => ({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization", generation },
    spec: { enabled: true, version: 1, settings: { virtualMachineCIDRs: cidrs } },
  });
  const running = (name: string, address: string): JsonObject => ({ ...vm(name, 2), status: { ipAddress: address } });
  const lease = (address: string): JsonObject => ({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachineIPAddressLease",
    metadata: { name: `ip-${address.replaceAll(".", "-")}` },
    spec: { virtualMachineIPAddressRef: { name: "ip", namespace: "tenant-a" } },
  });
  const ADDRESSED = [running("in-10", "10.66.10.5"), running("in-20", "10.66.20.5")];

  test("removing a subnet that holds VM addresses but no lease warns, naming the VMs and their addresses", () => {
    const j = judgeCleanly({ object: mc(["10.66.20.0/24"], 2), oldObject: mc(["10.66.10.0/24", "10.66.20.0/24"], 1), context: ADDRESSED });
    assert.deepEqual(j.denials, []);
    assert.deepEqual(j.warnings.filter((w) => w.startsWith("[moduleconfig-address-impact]")), [
      "[moduleconfig-address-impact] spec.settings.virtualMachineCIDRs: 1 VirtualMachine has an address outside the new subnets (10.66.20.0/24): tenant-a/in-10 (10.66.10.5). They keep them until restarted; keep a subnet covering them or move them first",
    ]);
  });

  test("when a lease is stranded the leases rule denies, and no impact warning is added", () => {
    const j = judgeCleanly({ object: mc(["10.66.20.0/24"], 2), oldObject: mc(["10.66.10.0/24", "10.66.20.0/24"], 1), context: [...ADDRESSED, lease("10.66.10.5")] });
    assert.equal(j.denials.filter((d) => d.startsWith("[moduleconfig-leased-subnets]")).length, 1);
    assert.deepEqual(j.warnings.filter((w) => w.startsWith("[moduleconfig-address-impact]")), []);
  });
});
