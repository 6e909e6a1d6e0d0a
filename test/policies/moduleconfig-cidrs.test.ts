import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture, fixtureObjects } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";
import { settingsOf as settings, withSetting } from "../support/moduleconfig.js";

const POLICY = "[moduleconfig-cidrs]";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
/** The stored virtualization ModuleConfig (10.66.10.0/24, 10.66.20.0/23; generation 3). */
function stored(): JsonObject {
  return fixture("moduleconfig/virtualization.yaml");
}
/** The stored config with virtualMachineCIDRs replaced and the generation bumped, as the API server would. */
function withCIDRs(cidrs: JsonValue[], from: JsonObject = stored()): JsonObject {
  return withSetting(from, "virtualMachineCIDRs", cidrs);
}
/** Nodes (192.168.199.10, .20, 203.0.113.20), the pod (10.111.0.0/16) and service (10.222.0.0/16) subnets, two leases. */
function cluster(): JsonObject[] {
  return [...fixtureObjects("cluster/nodes.yaml"), fixture("cluster/cluster-configuration.yaml"), ...fixtureObjects("cluster/leases.yaml")];
}
function update(cidrs: JsonValue[], context = cluster()): Judgement {
  return judge({ object: withCIDRs(cidrs), oldObject: stored(), context });
}

describe("moduleconfig-cidrs", () => {
  test("the stored configuration passes on CREATE and UPDATE", () => {
    assert.deepEqual(judge({ object: stored(), context: cluster() }).denials, []);
    assert.deepEqual(update(["10.66.10.0/24", "10.66.20.0/23", "10.66.30.0/24"]).denials, []);
  });

  test("an item that is not a CIDR is denied, naming it", () => {
    const j = update(["10.66.10.0/24", "10.66.20.0/23", "10.66.300.0/24", "10.66.40.0"]);
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs: "10.66.300.0/24", "10.66.40.0" are not CIDRs. Write each item as a network address and prefix length, e.g. 10.66.10.0/24`,
    ]);
  });

  test("a non-string item is reported, not crashed on", () => {
    const j = update(["10.66.10.0/24", 42, { cidr: "10.0.0.0/8" }]);
    assert.equal(mine(j).length, 1);
    assert.match(mine(j)[0] as string, /^\[moduleconfig-cidrs\] spec\.settings\.virtualMachineCIDRs .*not a CIDR/);
    assert.ok(!j.denials.some((d) => d.includes("could not be evaluated")), j.denials.join("\n"));
  });

  test("a CIDR whose address is not aligned to its mask is denied with the aligned form", () => {
    const j = update(["10.66.10.0/24", "192.168.1.190/27"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs: 192.168.1.190/27 does not start at its network address (use 192.168.1.160/27). Write each subnet from the address aligned to its mask`,
    ]);
    assert.deepEqual(mine(update(["10.66.10.0/24", "192.168.1.192/27"])), []);
  });

  test("overlapping items are denied, nesting included, naming both", () => {
    const nested = update(["10.66.0.0/16", "10.66.20.0/23"]);
    assert.deepEqual(mine(nested), [
      `${POLICY} spec.settings.virtualMachineCIDRs items must not overlap: 10.66.0.0/16 and 10.66.20.0/23 overlap. Remove or split the overlapping subnets`,
    ]);
    // The same pair in the other order is caught too.
    assert.equal(mine(update(["10.66.20.0/23", "10.66.0.0/16"])).length, 1);
    // Adjacent subnets do not overlap.
    assert.deepEqual(mine(update(["10.66.20.0/23", "10.66.22.0/23"])), []);
  });

  test("an item listed twice is denied", () => {
    const j = update(["10.66.10.0/24", "10.66.20.0/23", "10.66.10.0/24"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs items must not overlap: 10.66.10.0/24 is listed more than once. Remove or split the overlapping subnets`,
    ]);
  });

  test("an item overlapping the pod subnet is denied, naming both", () => {
    const j = update(["10.66.10.0/24", "10.111.128.0/24"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs item 10.111.128.0/24 overlaps the pod subnet 10.111.0.0/16 (ClusterConfiguration podSubnetCIDR); VM addresses would collide with pod addresses. Choose subnets outside 10.111.0.0/16`,
    ]);
  });

  test("an item containing the service subnet is denied, naming both", () => {
    const j = update(["10.66.10.0/24", "10.192.0.0/10"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs item 10.192.0.0/10 overlaps the service subnet 10.222.0.0/16 (ClusterConfiguration serviceSubnetCIDR); VM addresses would collide with service addresses. Choose subnets outside 10.222.0.0/16`,
    ]);
  });

  test("without a ClusterConfiguration in context the subnet checks are skipped", () => {
    const context = cluster().filter((o) => o.kind !== "ClusterConfiguration");
    assert.deepEqual(mine(update(["10.111.0.0/24"], context)), []);
  });

  test("an item containing a node's InternalIP is denied, naming node, address and CIDR", () => {
    const j = update(["10.66.10.0/24", "192.168.199.0/28"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs must not contain node addresses: node master-0 InternalIP 192.168.199.10 is inside 192.168.199.0/28. Choose subnets that hold no InternalIP or ExternalIP of a Node`,
    ]);
  });

  test("an item containing a node's ExternalIP is denied", () => {
    const j = update(["10.66.10.0/24", "203.0.113.16/28"]);
    assert.match(mine(j)[0] as string, /node worker-0 ExternalIP 203\.0\.113\.20 is inside 203\.0\.113\.16\/28/);
  });

  test("every node inside is named, and other address types do not count", () => {
    const j = update(["192.168.199.0/24"]);
    assert.match(mine(j)[0] as string, /node master-0 InternalIP 192\.168\.199\.10 is inside 192\.168\.199\.0\/24; node worker-0 InternalIP 192\.168\.199\.20/);
    const hostnameOnly: JsonObject = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "odd" },
      status: { addresses: [{ type: "InternalDNS", address: "10.66.10.5" }] },
    };
    assert.deepEqual(mine(update(["10.66.10.0/24"], [...cluster(), hostnameOnly])), []);
  });

  test("every violation is reported separately", () => {
    const j = update(["bogus", "10.111.0.0/24", "10.111.0.0/25", "192.168.199.10/32"]);
    const texts = mine(j);
    assert.equal(texts.length, 4, texts.join("\n"));
    assert.match(texts[0] as string, /"bogus" is not a CIDR/);
    assert.match(texts[1] as string, /10\.111\.0\.0\/24 and 10\.111\.0\.0\/25 overlap/);
    assert.match(texts[2] as string, /items 10\.111\.0\.0\/24, 10\.111\.0\.0\/25 overlap the pod subnet/);
    assert.match(texts[3] as string, /node master-0 InternalIP 192\.168\.199\.10 is inside 192\.168\.199\.10\/32/);
  });

  test("IPv6 CIDRs are checked without crashing", () => {
    assert.deepEqual(update(["10.66.10.0/24", "10.66.20.0/23", "fd00:66::/64"]).denials, []);
    const j = update(["fd00:66::/64", "fd00:66::/48", "fd00:67::1/64"]);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.virtualMachineCIDRs: fd00:67::1/64 does not start at its network address (use fd00:67::/64). Write each subnet from the address aligned to its mask`,
      `${POLICY} spec.settings.virtualMachineCIDRs items must not overlap: fd00:66::/48 and fd00:66::/64 overlap. Remove or split the overlapping subnets`,
    ]);
    const v6node: JsonObject = { apiVersion: "v1", kind: "Node", metadata: { name: "v6" }, status: { addresses: [{ type: "InternalIP", address: "fd00:66::10" }] } };
    assert.match(mine(update(["fd00:66::/64"], [...cluster(), v6node]))[0] as string, /node v6 InternalIP fd00:66::10 is inside fd00:66::\/64/);
  });

  test("a ModuleConfig without virtualMachineCIDRs or settings is allowed", () => {
    const none = stored();
    delete settings(none).virtualMachineCIDRs;
    assert.deepEqual(judge({ object: none, context: cluster() }).denials, []);
    const bare: JsonObject = { apiVersion: "deckhouse.io/v1alpha1", kind: "ModuleConfig", metadata: { name: "virtualization" }, spec: { enabled: false } };
    assert.deepEqual(judge({ object: bare, context: cluster() }).denials, []);
    const notAList = stored();
    settings(notAList).virtualMachineCIDRs = "10.66.10.0/24";
    assert.deepEqual(mine(judge({ object: notAList, context: cluster() })), []);
  });

  test("a malformed UPDATE without oldObject is judged like a CREATE, not crashed on", () => {
    const j = judge({ object: stored(), operation: "UPDATE", context: cluster() });
    assert.deepEqual(j.denials, []);
    assert.match(mine(judge({ object: withCIDRs(["bogus"]), operation: "UPDATE", context: cluster() }))[0] as string, /"bogus" is not a CIDR/);
  });

  test("other ModuleConfigs are untouched", () => {
    const other = fixture("moduleconfig/other-module.yaml");
    settings(other).virtualMachineCIDRs = ["bogus", "10.111.0.0/24"];
    const j = judge({ object: other, context: cluster() });
    assert.deepEqual(j.denials, []);
    assert.ok(!j.verdict.matched.includes("moduleconfig-cidrs"));
  });

  test("an UPDATE that leaves metadata.generation unchanged (status, labels) is skipped", () => {
    const bad = withCIDRs(["bogus"]);
    (bad.metadata as JsonObject).generation = 3;
    const j = judge({ object: bad, oldObject: stored(), context: cluster() });
    assert.deepEqual(mine(j), []);
    assert.ok(!j.verdict.matched.includes("moduleconfig-cidrs"));
  });
});
