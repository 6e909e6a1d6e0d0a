import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const NETWORKS = "vm-networks";
const MAIN = "vm-main-network";

const main: JsonObject = { type: "Main" };
const net: JsonObject = { type: "Network", name: "test" };
const clusterNet: JsonObject = { type: "ClusterNetwork", name: "test" };

/** vm-basic.yaml with the given spec.networks (undefined: no field) and status.phase. */
function vm(networks: JsonObject[] | undefined, phase?: string): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  if (networks !== undefined) (object.spec as JsonObject).networks = structuredClone(networks);
  if (phase !== undefined) object.status = { phase };
  return object;
}

const withCidrs = () => [fixture("class/host-sized-v1alpha3.yaml"), fixture("moduleconfig/virtualization.yaml")];
const withoutCidrs = () => [fixture("class/host-sized-v1alpha3.yaml"), fixture("vm/moduleconfig-no-cidrs.yaml")];

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: withCidrs(), params: { featureGates: ["SDN"] }, ...opts });
}

const networkDenials = (j: Judgement) => j.denials.filter((d) => d.startsWith(`[${NETWORKS}] `) || d.startsWith(`[${MAIN}] `));

describe(`${NETWORKS}: CREATE, as DVP's own validator decides`, () => {
  const id = (n: JsonObject, i: number): JsonObject => ({ ...n, id: i });
  // [networks, SDN gate on, allowed]
  const cases: [JsonObject[], boolean, boolean][] = [
    [[], true, true],
    [[main], true, true],
    [[main, main], true, false],
    [[net, main, main], true, false],
    [[{ type: "Main", name: "main" }], true, false],
    [[net], true, true],
    [[net, clusterNet], true, true],
    [[main, net], true, true],
    [[main, net, net], true, false],
    [[main, { type: "Network" }], true, false],
    [[main], false, true],
    [[main, net], false, false],
    [[id(main, 1)], true, true],
    [[id(net, 2)], true, true],
    [[id(main, 1), { type: "Network", name: "test1", id: 2 }, { type: "ClusterNetwork", name: "test2", id: 3 }], true, true],
    [[id(main, 1), { type: "Network", name: "test1", id: 1 }, { type: "ClusterNetwork", name: "test2", id: 2 }], true, false],
    [[{ type: "Network", name: "a", id: 2 }, { type: "Network", name: "b", id: 2 }], true, false],
    [[id(net, 16383)], true, true],
    [[id(net, 0)], true, false],
    [[id(net, 16384)], true, false],
    [[id(net, -1)], true, false],
    [[id(main, 2)], true, false],
    [[id(main, 16383)], true, false],
    [[id(main, 16384)], true, false],
  ];
  for (const [i, [networks, sdn, allowed]] of cases.entries()) {
    test(`case ${i}: ${JSON.stringify(networks)} with SDN ${sdn ? "on" : "off"} is ${allowed ? "allowed" : "denied"}`, () => {
      const j = run({ object: vm(networks), params: { featureGates: sdn ? ["SDN"] : [] } });
      assert.equal(networkDenials(j).length === 0, allowed, j.denials.join("\n"));
    });
  }
});

describe(`${NETWORKS}: messages`, () => {
  const denials = (networks: JsonObject[], params: JsonObject = { featureGates: ["SDN"] }) => networkDenials(run({ object: vm(networks), params: params as JudgeOptions["params"] }));

  test("Main out of place or listed twice", () => {
    assert.deepEqual(denials([net, main]), [`[${NETWORKS}] spec.networks[1] is of type Main; the Main network must be the first entry of spec.networks. Move it to the top of the list`]);
    assert.deepEqual(denials([main, main]), [
      `[${NETWORKS}] spec.networks[1] is of type Main; the Main network may be listed only once. Remove the extra Main entry`,
      `[${NETWORKS}] spec.networks lists Main more than once; each network may be connected once. Remove the duplicate entries`,
    ]);
  });

  test("names: none on Main, required elsewhere", () => {
    assert.deepEqual(denials([{ type: "Main", name: "pod" }]), [
      `[${NETWORKS}] spec.networks: the Main network has name pod; the Main network is the cluster network and takes no name. Remove name from the Main entry`,
    ]);
    assert.deepEqual(denials([main, { type: "ClusterNetwork" }]), [
      `[${NETWORKS}] spec.networks[1] is of type ClusterNetwork but has no name; a ClusterNetwork entry must name the network it connects to. Set its name`,
    ]);
  });

  test("duplicates and ids", () => {
    assert.deepEqual(denials([main, net, clusterNet, net]), [
      `[${NETWORKS}] spec.networks lists Network "test" more than once; each network may be connected once. Remove the duplicate entries`,
    ]);
    assert.deepEqual(denials([{ type: "Main", id: 1 }, { type: "Network", name: "a", id: 0 }, { type: "Network", name: "b", id: 16384 }]), [
      `[${NETWORKS}] spec.networks: Network "a" has id 0, Network "b" has id 16384; network ids are integers from 1 to 16383. Set an id in that range, or leave it out to have one assigned`,
    ]);
    assert.deepEqual(denials([{ type: "Main", id: 7 }]), [`[${NETWORKS}] spec.networks: the Main network has id 7; the Main network always has id 1. Set its id to 1 or leave it out`]);
    assert.deepEqual(denials([{ type: "Main", id: 1 }, { type: "Network", name: "a", id: 5 }, { type: "ClusterNetwork", name: "b", id: 5 }]), [
      `[${NETWORKS}] spec.networks: Network "a" has id 5, ClusterNetwork "b" has id 5; every network needs its own id. Give them distinct ids, or leave the ids out to have them assigned`,
    ]);
  });

  test("additional networks need the SDN gate", () => {
    assert.deepEqual(denials([main, net, { type: "ClusterNetwork", name: "backup" }], { featureGates: ["VerticalVirtualMachineAutoscaler"] }), [
      `[${NETWORKS}] spec.networks lists Network "test", ClusterNetwork "backup"; networks beyond a single Main network need the SDN feature gate, which the virtualization controller does not run with (its gates: VerticalVirtualMachineAutoscaler). Remove the additional networks, or have the administrator enable the sdn module`,
    ]);
    assert.match(denials([net], {}).join(), /lists Network "test"; .*\(its gates: none\)/);
  });

  test("every violation at once", () => {
    const found = denials([{ type: "Network", id: 0 }, { type: "Main", name: "x", id: 3 }, { type: "Main", name: "x", id: 3 }], { featureGates: [] });
    assert.equal(found.length, 8, found.join("\n"));
  });

  test("a full VirtualMachine passes", () => {
    const j = run({ object: fixture("vm/vm-full.yaml"), context: [...withCidrs(), fixture("vm/class-tiered-v1alpha2.yaml")] });
    assert.deepEqual(j.denials, []);
  });
});

describe(`${NETWORKS}: UPDATE`, () => {
  const update = (oldNetworks: JsonObject[] | undefined, newNetworks: JsonObject[] | undefined, phase?: string) =>
    networkDenials(run({ object: vm(newNetworks, phase), oldObject: vm(oldNetworks, phase) }));
  const withId = (n: JsonObject, id: number): JsonObject => ({ ...n, id });

  test("an id may change only while the VirtualMachine is Stopped", () => {
    assert.deepEqual(update([withId(net, 1)], [withId(net, 2)], "Running"), [
      `[${NETWORKS}] spec.networks: the id of Network "test" from 1 to 2 would change while the VirtualMachine is Running; a network id may change only while the VirtualMachine is Stopped. Stop it first, or keep the old id`,
    ]);
    assert.match(update([withId(net, 1)], [withId(net, 2)]).join(), /while the VirtualMachine is not Stopped;/);
    assert.deepEqual(update([withId(net, 1)], [withId(net, 2)], "Stopped"), []);
    assert.equal(update([withId({ type: "ClusterNetwork", name: "cluster" }, 5)], [withId({ type: "ClusterNetwork", name: "cluster" }, 10)], "Running").length, 1);
    assert.match(update([withId(main, 1), withId(net, 2)], [withId(main, 1), net], "Running").join(), /the id of Network "test" from 2 to none/);
  });

  test("setting an id that was not set, and reordering, are allowed", () => {
    assert.deepEqual(update([net], [withId(net, 1)], "Running"), []);
    assert.deepEqual(update([main, net, clusterNet], [main, clusterNet, net], "Running"), []);
    assert.deepEqual(update([withId(main, 1), withId(net, 2)], [withId(main, 1), withId(net, 2)]), []);
  });

  test("a changed list is validated like a new one", () => {
    assert.deepEqual(update([], [main]), []);
    assert.equal(update([main, net, net, net], [main, net, net]).length, 1);
    assert.deepEqual(update([main, net, net, net], [main, net]), []);
    assert.deepEqual(update([main, net], [net]), []);
    assert.deepEqual(update([net], [main, net]), []);
    assert.notDeepEqual(update([main, net], [net, main]), [], "moving Main down is caught although the set is the same");
    assert.equal(update([withId(main, 1)], [withId(main, 2)]).length, 2, "id change and Main id");
    assert.notDeepEqual(update([withId(main, 0), withId(net, 1)], [withId(main, 0)]), []);
    assert.notDeepEqual(update([withId(net, 0)], [withId(net, 1)]), []);
    assert.notDeepEqual(update([withId(net, 1)], [withId(net, 0)]), []);
  });

  test("an unchanged list is not re-checked, so unrelated edits go through", () => {
    const object = vm([main, net, net], "Running");
    const oldObject = vm([main, net, net], "Running");
    (object.metadata as JsonObject).labels = { touched: "yes" };
    assert.deepEqual(networkDenials(run({ object, oldObject, params: { featureGates: [] } })), []);
  });

  test("a VirtualMachine being deleted is not checked", () => {
    const object = vm([net, main, main], "Running");
    (object.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(networkDenials(run({ object, oldObject: vm([main]), context: withoutCidrs(), params: {} })), []);
  });
});

describe(`${NETWORKS}: malformed lists the CRD would reject`, () => {
  test("do not break the policies: entries of no known type are left to the schema, an id that is not a number is named", () => {
    const cases: [unknown[], RegExp[]][] = [
      [["x", 5], []],
      [[{ name: "x" }], []],
      [[{ type: "Network", name: "a", id: "2" }], [/^\[vm-networks\] spec\.networks: Network "a" has id "2", a string; network ids are integers from 1 to 16383\./]],
      [[{ type: "Main", id: "1" }, { type: "Network", name: 7 }], [/^\[vm-networks\] spec\.networks: Main has id "1", a string; network ids are integers from 1 to 16383\./]],
    ];
    for (const [networks, expected] of cases) {
      for (const j of [run({ object: vm(networks as JsonObject[]), oldObject: vm([main]) }), run({ object: vm(networks as JsonObject[]) })]) {
        const denials = networkDenials(j);
        assert.equal(denials.length, expected.length, `${JSON.stringify(networks)}: ${denials.join("; ")}`);
        expected.forEach((pattern, i) => assert.match(denials[i] as string, pattern));
      }
    }
  });
});

describe(`${MAIN}: the Main network needs virtualMachineCIDRs`, () => {
  const denials = (opts: JudgeOptions) => networkDenials(run({ context: withoutCidrs(), ...opts }));

  test("without CIDRs, an absent or empty list and an explicit Main are denied", () => {
    assert.deepEqual(denials({ object: vm(undefined) }), [
      `[${MAIN}] spec.networks is not set, which means the Main network, but the virtualization ModuleConfig has no spec.settings.virtualMachineCIDRs, so Main has no addresses to give. List only Network or ClusterNetwork entries, or have the administrator configure virtualMachineCIDRs`,
    ]);
    assert.match(denials({ object: vm([]) }).join(), /^\[vm-main-network\] spec\.networks is empty, which means the Main network, but/);
    assert.deepEqual(denials({ object: vm([main, net]) }), [
      `[${MAIN}] spec.networks lists the Main network, but the virtualization ModuleConfig has no spec.settings.virtualMachineCIDRs, so Main has no addresses to give. List only Network or ClusterNetwork entries, or have the administrator configure virtualMachineCIDRs`,
    ]);
  });

  test("without CIDRs, additional networks alone are fine", () => {
    assert.deepEqual(denials({ object: vm([net, clusterNet]) }).filter((d) => d.startsWith(`[${MAIN}]`)), []);
  });

  test("with CIDRs, or when the ModuleConfig is not known, nothing is denied", () => {
    assert.deepEqual(networkDenials(run({ object: vm(undefined) })), []);
    assert.deepEqual(networkDenials(run({ object: vm([main]), context: [fixture("class/host-sized-v1alpha3.yaml")] })), []);
  });

  test("UPDATE: only a change of spec.networks is checked", () => {
    assert.equal(denials({ object: vm([main]), oldObject: vm([net]) }).length, 1);
    assert.equal(denials({ object: vm(undefined), oldObject: vm([net]) }).length, 1);
    const object = vm([main]);
    (object.metadata as JsonObject).finalizers = ["test-finalizer"];
    assert.deepEqual(denials({ object, oldObject: vm([main]) }), []);
    assert.deepEqual(denials({ object: vm(undefined), oldObject: vm([]) }), [], "absent and empty are the same list");
  });
});
