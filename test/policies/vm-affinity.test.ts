import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement } from "../support/judge.js";

const POLICY = "vm-affinity";

function vm(affinity: JsonObject): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  (object.spec as JsonObject).affinity = affinity;
  return object;
}

const run = (object: JsonObject): Judgement => judgeCleanly({ object, context: [fixture("class/host-sized-v1alpha3.yaml"), fixture("moduleconfig/virtualization.yaml")] });
const mine = (affinity: JsonObject) => run(vm(affinity)).denials.filter((d) => d.startsWith(`[${POLICY}] `));
const required = (...matchExpressions: JsonObject[]): JsonObject => ({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions }] } } });

describe(POLICY, () => {
  test("well-formed affinities are allowed", () => {
    assert.deepEqual(mine(required({ key: "zone", operator: "In", values: ["a", "b"] }, { key: "gpu", operator: "DoesNotExist" }, { key: "cores", operator: "Lt", values: ["64"] })), []);
    assert.deepEqual(mine({ virtualMachineAndPodAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, virtualMachineAndPodAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchExpressions: [{ key: "app", operator: "Exists" }] } } }] } }), []);
  });

  test("expressions whose values do not fit the operator are denied, each named, in one message", () => {
    assert.deepEqual(mine(required({ key: "zone", operator: "In" }, { key: "gpu", operator: "Exists", values: ["x"] }, { key: "cores", operator: "Gt", values: ["1", "2"] })), [
      `[${POLICY}] spec.affinity.nodeAffinity has the match expression zone In with 0 values, gpu Exists with 1 values, cores Gt with 2 values; In and NotIn take at least one value, Exists and DoesNotExist none, Gt and Lt exactly one integer. Fix the values of the expression`,
    ]);
  });

  test("an empty list of required terms, a selector without values and an empty topologyKey are denied", () => {
    assert.match(mine({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } }).join(), /nodeSelectorTerms is empty/);
    assert.match(mine({ virtualMachineAndPodAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "zone", namespaceSelector: { matchExpressions: [{ key: "team", operator: "NotIn" }] } }] } }).join(), /label selector expression team NotIn with 0 values/);
    assert.match(mine({ virtualMachineAndPodAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "" }] } }).join(), /empty topologyKey/);
  });
});
