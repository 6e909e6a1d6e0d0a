import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture, fixtureObjects } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";
import { settingsOf as settings, withSetting } from "../support/moduleconfig.js";

const POLICY = "[moduleconfig-leased-subnets]";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
/** The stored virtualization ModuleConfig: 10.66.10.0/24 and 10.66.20.0/23, generation 3. */
function stored(cidrs?: JsonValue[]): JsonObject {
  const mc = fixture("moduleconfig/virtualization.yaml");
  if (cidrs) settings(mc).virtualMachineCIDRs = cidrs;
  return mc;
}
function withCIDRs(cidrs: JsonValue[] | undefined, from: JsonObject = stored()): JsonObject {
  return withSetting(from, "virtualMachineCIDRs", cidrs);
}
/** Leases ip-10-66-10-23 (in 10.66.10.0/24) and ip-10-66-21-7 (in 10.66.20.0/23). */
function leases(): JsonObject[] {
  return fixtureObjects("cluster/leases.yaml");
}
function lease(address: string): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachineIPAddressLease",
    metadata: { name: `ip-${address.replaceAll(".", "-")}` },
    spec: { virtualMachineIPAddressRef: { name: "vm", namespace: "tenant" } },
  };
}
function update(cidrs: JsonValue[] | undefined, context: JsonObject[] = leases(), from: JsonObject = stored()): Judgement {
  return judge({ object: withCIDRs(cidrs, from), oldObject: from, context });
}

describe("moduleconfig-leased-subnets", () => {
  test("adding a subnet is allowed", () => {
    assert.deepEqual(update(["10.66.10.0/24", "10.66.20.0/23", "10.66.30.0/24"]).denials, []);
  });

  test("narrowing 10.66.20.0/23 to 10.66.21.0/24 keeps lease ip-10-66-21-7 covered: allowed", () => {
    assert.deepEqual(update(["10.66.10.0/24", "10.66.21.0/24"]).denials, []);
  });

  test("narrowing 10.66.20.0/23 to 10.66.20.0/24 strands ip-10-66-21-7: denied, naming lease, address and removed CIDR", () => {
    const j = update(["10.66.10.0/24", "10.66.20.0/24"]);
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs: this change would strand lease ip-10-66-21-7 (10.66.21.7, in removed 10.66.20.0/23). Keep subnets covering the leased addresses, or delete their VirtualMachineIPAddresses first`,
    ]);
  });

  test("removing a leased CIDR is denied", () => {
    const j = update(["10.66.20.0/23"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs: this change would strand lease ip-10-66-10-23 (10.66.10.23, in removed 10.66.10.0/24). Keep subnets covering the leased addresses, or delete their VirtualMachineIPAddresses first`,
    ]);
  });

  test("removing the same CIDR without leases in it is allowed", () => {
    assert.deepEqual(update(["10.66.20.0/23"], []).denials, []);
    assert.deepEqual(update(["10.66.20.0/23"], [lease("10.66.21.7"), lease("10.99.0.1")]).denials, []);
  });

  test("moving a leased address into another listed subnet counts as covered", () => {
    // 10.66.10.0/24 is replaced by the wider 10.66.0.0/19, which still holds 10.66.10.23 and 10.66.21.7.
    assert.deepEqual(update(["10.66.0.0/19"]).denials, []);
  });

  test("several stranded leases are named (at most two, then how many more)", () => {
    const context = [lease("10.66.20.1"), lease("10.66.20.2"), lease("10.66.21.7"), lease("10.66.21.200"), lease("10.66.10.23")];
    const two = mine(update(["10.66.10.0/24", "10.66.21.0/24"], context));
    assert.deepEqual(two, [
      `${POLICY} spec.settings.virtualMachineCIDRs: this change would strand leases ip-10-66-20-1 (10.66.20.1, in removed 10.66.20.0/23), ip-10-66-20-2 (10.66.20.2, in removed 10.66.20.0/23). Keep subnets covering the leased addresses, or delete their VirtualMachineIPAddresses first`,
    ]);
    const many = mine(update(["10.66.30.0/24"], context));
    assert.equal(many.length, 1);
    assert.deepEqual(many, [
      `${POLICY} spec.settings.virtualMachineCIDRs: this change would strand leases ip-10-66-10-23 (10.66.10.23, in removed 10.66.10.0/24), ip-10-66-20-1 (10.66.20.1, in removed 10.66.20.0/23) and more. Keep subnets covering the leased addresses, or delete their VirtualMachineIPAddresses first`,
    ]);
    assert.ok((many[0] as string).length <= 320, `${(many[0] as string).length} chars`);
    const three = mine(update(["10.66.10.0/24"], context));
    assert.match(three[0] as string, /would strand leases ip-10-66-20-1 \(10\.66\.20\.1, in removed 10\.66\.20\.0\/23\), ip-10-66-20-2 \(10\.66\.20\.2, in removed 10\.66\.20\.0\/23\) and 2 more\. /);
  });

  test("leases already outside the old list do not block an unrelated change", () => {
    assert.deepEqual(update(["10.66.10.0/24", "10.66.20.0/23", "10.66.30.0/24"], [...leases(), lease("172.16.0.9")]).denials, []);
  });

  test("a lease whose name does not encode an address is ignored", () => {
    const odd = lease("10.66.10.23");
    (odd.metadata as JsonObject).name = "legacy-lease";
    assert.deepEqual(update(["10.66.20.0/23"], [odd]).denials, []);
  });

  test("clearing the list is denied, with or without leases", () => {
    const expected = `${POLICY} spec.settings.virtualMachineCIDRs was 10.66.10.0/24, 10.66.20.0/23 and may not be cleared once configured: static VM addresses are allocated from it. Keep at least one subnet`;
    assert.deepEqual(mine(update(undefined, [])), [expected]);
    assert.deepEqual(mine(update([], [])), [expected]);
    // With leases, the stranded leases are reported as well.
    const j = update(undefined);
    assert.equal(mine(j).length, 2);
    assert.equal(mine(j)[0], expected);
    assert.match(mine(j)[1] as string, /would strand leases ip-10-66-10-23 \(10\.66\.10\.23, in removed 10\.66\.10\.0\/24\), ip-10-66-21-7 \(10\.66\.21\.7, in removed 10\.66\.20\.0\/23\)/);
  });

  test("configuring the list for the first time is allowed", () => {
    const none = withCIDRs(undefined);
    assert.deepEqual(update(["10.66.10.0/24"], leases(), none).denials, []);
  });

  test("DELETE of the ModuleConfig while a lease exists is denied, naming a lease", () => {
    const j = judge({ oldObject: stored(), operation: "DELETE", context: [lease("10.66.21.7")] });
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} ModuleConfig virtualization cannot be deleted while VirtualMachineIPAddressLeases exist, e.g. ip-10-66-21-7 (10.66.21.7). Delete the VirtualMachineIPAddresses holding them first`,
    ]);
  });

  test("DELETE without leases is allowed", () => {
    assert.deepEqual(judge({ oldObject: stored(), operation: "DELETE", context: [] }).denials, []);
  });

  test("DELETE of another ModuleConfig is untouched", () => {
    const j = judge({ oldObject: fixture("moduleconfig/other-module.yaml"), operation: "DELETE", context: leases() });
    assert.deepEqual(j.denials, []);
  });

  test("other ModuleConfigs are untouched on UPDATE", () => {
    const other = fixture("moduleconfig/other-module.yaml");
    settings(other).virtualMachineCIDRs = ["10.66.10.0/24"];
    const j = update([], leases(), other);
    assert.deepEqual(j.denials, []);
  });

  test("an UPDATE with an unchanged generation is skipped", () => {
    const cleared = withCIDRs(undefined);
    (cleared.metadata as JsonObject).generation = 3;
    const j = judge({ object: cleared, oldObject: stored(), context: leases() });
    assert.deepEqual(j.denials, []);
  });

  test("IPv6 subnets next to leased IPv4 ones do not crash", () => {
    assert.deepEqual(update(["10.66.10.0/24", "10.66.20.0/23", "fd00:66::/64"]).denials, []);
    const j = update(["fd00:66::/64"], leases(), stored(["10.66.10.0/24", "10.66.20.0/23", "fd00:66::/64"]));
    assert.match(mine(j)[0] as string, /would strand leases ip-10-66-10-23 \(10\.66\.10\.23, in removed 10\.66\.10\.0\/24\)/);
  });

  test("malformed items are ignored here (moduleconfig-cidrs reports them)", () => {
    const j = update(["10.66.10.0/24", "10.66.20.0/23", "bogus", 7]);
    assert.deepEqual(mine(j), []);
    assert.ok(!j.denials.some((d) => d.includes("could not be evaluated")), j.denials.join("\n"));
  });
});
