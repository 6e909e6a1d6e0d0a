import assert from "node:assert/strict";
import { test } from "node:test";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { bindParameters, evaluate, FieldIndex, loadPolicySet, PolicyLoadError, type JsonObject } from "../../src/engine/index.js";
import { admissionRequest } from "../support/review.js";
import { policyDoc, source } from "../support/policy-doc.js";

const VM = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", resource: "virtualmachines", namespaced: true };
const BY_CLASS = { name: "byClass", target: VM, type: "field", key: "has(object.spec.virtualMachineClassName) ? object.spec.virtualMachineClassName : ''" };

function vm(name: string, className?: string): JsonObject {
  return { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name, namespace: "ns" }, spec: className ? { virtualMachineClassName: className } : {} };
}
const names = (objects: readonly JsonObject[]) => objects.map((o) => (o.metadata as { name: string }).name).sort();

test("FieldIndex answers by exact key, each object once, up to a limit", () => {
  const index = new FieldIndex();
  const a = vm("a");
  const b = vm("b");
  const c = vm("c");
  index.add(a, ["small"]);
  index.add(b, ["small", "large"]);
  index.add(c, ["large"]);
  index.add(vm("no-keys"), []);
  assert.equal(index.size, 3);
  assert.deepEqual(names(index.query(["small"])), ["a", "b"]);
  assert.deepEqual(names(index.query(["small", "large"])), ["a", "b", "c"]);
  assert.equal(index.query(["small", "large"], 2).length, 2);
  assert.deepEqual(index.query(["none"]), []);
  index.delete(b);
  assert.deepEqual(names(index.query(["small", "large"])), ["a", "c"]);
  index.delete(b);
  assert.equal(index.size, 2);
});

test("ObjectStore keeps a field index in step with upserts, moves between keys and deletes", () => {
  const set = loadPolicySet([source("p.json", policyDoc("p", { indexes: [BY_CLASS] }))]);
  const store = new ObjectStore(set.indexes);
  assert.deepEqual(store.indexQuery("virtualization.deckhouse.io/VirtualMachine", "byClass", ["small"]), [], "no objects yet: empty, not an error");
  store.upsert(vm("a", "small"));
  store.upsert(vm("b", "small"));
  store.upsert(vm("a", "large"));
  assert.deepEqual(names(store.indexQuery("virtualization.deckhouse.io/VirtualMachine", "byClass", ["small"])), ["b"]);
  assert.deepEqual(names(store.indexQuery("virtualization.deckhouse.io/VirtualMachine", "byClass", ["large"])), ["a"]);
  store.delete(vm("b"));
  assert.deepEqual(store.indexQuery("virtualization.deckhouse.io/VirtualMachine", "byClass", ["small"]), []);
  assert.throws(() => store.ipQuery("virtualization.deckhouse.io/VirtualMachine", "byClass", {}), /no ip index "byClass"/);
});

test("an indexQuery lookup returns the objects with the key, without listing the kind", () => {
  const doc = policyDoc("p", {
    indexes: [BY_CLASS],
    variables: [{ name: "peers", lookup: { target: VM, indexQuery: { index: "byClass", key: "object.spec.virtualMachineClassName" } } }],
    validations: [{ expression: "size(variables.peers) == 0", messageExpression: "'peers: ' + variables.peers.map(p, p.metadata.name).join(', ')", message: "m", action: "Warn" }],
  });
  const set = loadPolicySet([source("p.json", doc)]);
  const store = new ObjectStore(set.indexes);
  for (const o of [vm("a", "small"), vm("b", "large"), vm("c", "small")]) store.upsert(o);
  const context = Object.assign(Object.create(store) as ObjectStore, {
    list: () => assert.fail("an indexQuery must not list the kind"),
  });
  const verdict = evaluate(set, admissionRequest({ object: vm("new", "small") }), { context, params: bindParameters(set, {}) });
  assert.deepEqual(verdict.warnings.map((w) => w.message), ["peers: a, c"]);
});

test("an indexQuery key that is neither a string nor a list of strings fails the policy with the reason", () => {
  const doc = policyDoc("p", {
    indexes: [BY_CLASS],
    variables: [{ name: "peers", lookup: { target: VM, indexQuery: { index: "byClass", key: "42" } } }],
    // Variables are computed when read: a rule must read this one for its key to matter.
    validations: [{ expression: "size(variables.peers) >= 0", message: "m", action: "Deny" }],
  });
  const set = loadPolicySet([source("p.json", doc)]);
  const verdict = evaluate(set, admissionRequest({ object: vm("new", "small") }), { context: new ObjectStore(set.indexes), params: bindParameters(set, {}) });
  assert.match(verdict.denials[0]?.message ?? "", /an indexQuery key must be a string or a list of strings, got int 42/);
});

function loadProblems(doc: JsonObject): string[] {
  try {
    loadPolicySet([source("p.json", doc)]);
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError);
    return err.problems.map((p) => p.message);
  }
  return assert.fail("loaded");
}

test("an indexQuery needs a declared field index; an ipQuery an ip index", () => {
  assert.match(
    loadProblems(policyDoc("p", { variables: [{ name: "v", lookup: { target: VM, indexQuery: { index: "byClass", key: "'x'" } } }] }))[0] ?? "",
    /no policy defines index "byClass" on virtualization\.deckhouse\.io\/VirtualMachine/,
  );
  assert.match(
    loadProblems(policyDoc("p", { indexes: [BY_CLASS], variables: [{ name: "v", lookup: { target: VM, ipQuery: { index: "byClass", within: "['10.0.0.0/8']" } } }] }))[0] ?? "",
    /ipQuery needs an index of type "ip", but index "byClass" .* is of type "field"/,
  );
  assert.match(
    loadProblems(policyDoc("p", { indexes: [{ ...BY_CLASS, type: "hash" }] }))[0] ?? "",
    /must be one of "ip", "field"/,
  );
});

test("indexQuery anyOf keeps the objects one of its expressions accepts; limit bounds how many are taken", () => {
  const peers = (indexQuery: JsonObject) =>
    policyDoc("p", {
      indexes: [BY_CLASS],
      variables: [
        { name: "big", expression: "3" },
        { name: "peers", lookup: { target: VM, indexQuery: { index: "byClass", key: "'small'", ...indexQuery } } },
      ],
      validations: [{ expression: "size(variables.peers) < 0", messageExpression: "variables.peers.map(p, p.metadata.name).join(',')", message: "m", action: "Warn" }],
    });
  const sized = (name: string, cores: number): JsonObject => ({ ...vm(name, "small"), spec: { virtualMachineClassName: "small", cpu: { cores } } });
  const objects = [sized("a", 1), sized("b", 4), sized("c", 8), sized("d", 2)];
  const run = (doc: JsonObject) => {
    const set = loadPolicySet([source("p.json", doc)]);
    const store = new ObjectStore(set.indexes);
    for (const o of objects) store.upsert(o);
    const v = evaluate(set, admissionRequest({ object: vm("new", "small") }), { context: store, params: bindParameters(set, {}) });
    return v.warnings.map((w) => w.message.split(",").sort().join(","));
  };
  assert.deepEqual(run(peers({ anyOf: ["item.spec.cpu.cores > variables.big", "item.spec.cpu.cores == 1"] })), ["a,b,c"]);
  assert.deepEqual(run(peers({ limit: 2 })).map((m) => m.split(",").length), [2]);
  assert.match(run(peers({ anyOf: ["item.spec.cpu.cores"] })).join("\n"), /lookup "peers" anyOf "item.spec.cpu.cores" must return a bool/);
});
