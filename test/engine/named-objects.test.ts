import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "@bufbuild/cel";
import { loadPolicySet, type JsonObject } from "../../src/engine/index.js";
import { literalStrings } from "../../src/engine/named-objects.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { policyDoc, source } from "../support/policy-doc.js";

const strings = (expression: string): string[] | undefined => {
  const s = literalStrings(parse(expression).expr);
  return s && [...s].sort();
};

test("literalStrings: string literals and conditionals of them; anything else decides nothing", () => {
  assert.deepEqual(strings("'virtualization'"), ["virtualization"]);
  assert.deepEqual(strings("has(object.spec.x) ? 'virtualization' : ''"), ["", "virtualization"]);
  assert.deepEqual(strings("a ? 'x' : (b ? 'y' : 'x')"), ["x", "y"]);
  assert.equal(strings("object.spec.virtualMachineClassName"), undefined);
  assert.equal(strings("a ? 'x' : object.metadata.name"), undefined);
  assert.equal(strings("'d8-' + 'virtualization'"), undefined);
  assert.equal(strings("1"), undefined);
});

const PVC = { apiVersion: "v1", kind: "PersistentVolumeClaim", resource: "persistentvolumeclaims", namespaced: true };
const CLASS = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineClass", resource: "virtualmachineclasses" };

/** The set's target for a kind, after loading these variables in one or two policies. */
function targetOf(kind: string, ...variableLists: JsonObject[][]): JsonObject | undefined {
  const set = loadPolicySet(variableLists.map((variables, i) => source(`p${i}.json`, policyDoc(`p${i}`, { variables }))));
  return set.targets.get(kind) as JsonObject | undefined;
}

test("a kind every lookup names with the same constants is narrowed to that object", () => {
  const get = (name: string, namespace?: string): JsonObject => ({ name: "x", lookup: { target: PVC, get: namespace ? { name, namespace } : { name } } });
  assert.deepEqual(targetOf("/PersistentVolumeClaim", [get("'dvcr'", "'d8-virtualization'")])?.only, { name: "dvcr", namespace: "d8-virtualization" });
  // Another policy naming the same object, one that may name none: still that object.
  assert.deepEqual(targetOf("/PersistentVolumeClaim", [get("'dvcr'", "'d8-virtualization'")], [get("has(object.spec) ? 'dvcr' : ''", "'d8-virtualization'")])?.only, {
    name: "dvcr",
    namespace: "d8-virtualization",
  });
  const cls = (name: string): JsonObject => ({ name: "c", lookup: { target: CLASS, get: { name } } });
  assert.deepEqual(targetOf("virtualization.deckhouse.io/VirtualMachineClass", [cls("'generic'")])?.only, { name: "generic" });
});

test("a kind read any other way is not narrowed: watched whole", () => {
  const get = (name: string, namespace?: string): JsonObject => ({ name: "x", lookup: { target: PVC, get: namespace ? { name, namespace } : { name } } });
  const cases: [string, JsonObject[][]][] = [
    ["a name from the object", [[get("object.metadata.name", "'d8-virtualization'")]]],
    ["the request's namespace", [[get("'dvcr'")]]],
    ["two names", [[get("'dvcr'", "'d8-virtualization'")], [get("'other'", "'d8-virtualization'")]]],
    ["one name in two namespaces", [[get("'dvcr'", "'d8-virtualization'")], [get("'dvcr'", "'elsewhere'")]]],
    ["either of two names", [[get("has(object.spec) ? 'dvcr' : 'other'", "'d8-virtualization'")]]],
    ["a list besides", [[get("'dvcr'", "'d8-virtualization'"), { name: "all", lookup: { target: PVC, list: { limit: 5 } } }]]],
  ];
  for (const [what, lists] of cases) assert.equal(targetOf("/PersistentVolumeClaim", ...lists)?.only, undefined, what);
});

test("the shipped set: the dvcr PVC, the virtualization ModuleConfig and the controller's Deployment are read by name; the kinds queried or indexed whole", () => {
  const set = loadPolicyDir();
  assert.deepEqual(set.targets.get("/PersistentVolumeClaim")?.only, { name: "dvcr", namespace: "d8-virtualization" });
  assert.deepEqual(set.targets.get("deckhouse.io/ModuleConfig")?.only, { name: "virtualization" });
  assert.deepEqual(set.targets.get("apps/Deployment")?.only, { name: "virtualization-controller", namespace: "d8-virtualization" });
  for (const [kind, target] of set.targets) if (kind.startsWith("virtualization.deckhouse.io/")) assert.equal(target.only, undefined, kind);
});
