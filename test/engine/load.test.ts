import assert from "node:assert/strict";
import { test } from "node:test";
import { loadPolicySet, PolicyLoadError } from "../../src/engine/index.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { policyDoc, source } from "../support/policy-doc.js";

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError, `expected PolicyLoadError, got ${String(err)}`);
    return err.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`);
  }
  assert.fail("the policy set loaded, but should not have");
}

test("the shipped policy set loads and compiles", () => {
  const set = loadPolicyDir();
  assert.ok(set.policies.length >= 1);
  assert.match(set.hash, /^[0-9a-f]{16}$/);
});

test("a schema violation names the file, the JSON path and the reason", () => {
  const doc = policyDoc("p");
  (doc.spec as { validations: unknown[] }).validations = [{ expression: "true", message: "m", action: "Reject" }];
  assert.deepEqual(problemsOf(() => loadPolicySet([source("policies/p.json", doc)])), [
    'policies/p.json: spec.validations[0].action: must be one of "Deny", "Warn", "Audit"',
  ]);
});

test("an unknown field is named", () => {
  const doc = policyDoc("p", { matchConditionz: [] });
  assert.deepEqual(problemsOf(() => loadPolicySet([source("p.json", doc)])), ['p.json: spec: unknown field "matchConditionz"']);
});

test("invalid JSON is reported with the parser's position", () => {
  const [problem] = problemsOf(() => loadPolicySet([source("broken.json", '{"apiVersion": ')]));
  assert.match(problem ?? "", /^broken\.json: : not valid JSON: /);
});

test("a CEL expression that does not compile is reported with its path", () => {
  const doc = policyDoc("p", { validations: [{ expression: "object.spec.cpu.cores <=", message: "m", action: "Deny" }] });
  const [problem] = problemsOf(() => loadPolicySet([source("p.json", doc)]));
  assert.match(problem ?? "", /^p\.json: spec\.validations\[0\]\.expression: CEL syntax error/);
});

test("one bad file rejects the whole set: nothing is half-loaded", () => {
  const good = policyDoc("good");
  const bad = policyDoc("bad", { variables: [{ name: "x", expression: "nosuchfn(1)" }] });
  const problems = problemsOf(() => loadPolicySet([source("good.json", good), source("bad.json", bad)]));
  assert.deepEqual(problems, ['bad.json: spec.variables[0].expression: undeclared function "nosuchfn" in "nosuchfn(1)"']);
});

test("every problem of every file is reported at once", () => {
  const a = policyDoc("a", { validations: [{ expression: "objct == 1", message: "m", action: "Deny" }] });
  const b = policyDoc("b", { failurePolicy: "Sometimes" });
  assert.equal(problemsOf(() => loadPolicySet([source("a.json", a), source("b.json", b)])).length, 2);
});

test("duplicate policy names across files are rejected", () => {
  const problems = problemsOf(() => loadPolicySet([source("one.json", policyDoc("same")), source("two.json", policyDoc("same"))]));
  assert.deepEqual(problems, ['two.json: metadata.name: policy "same" is already defined in one.json']);
});

test("a variable used before it is declared is rejected", () => {
  const doc = policyDoc("p", {
    variables: [
      { name: "a", expression: "variables.b + 1" },
      { name: "b", expression: "1" },
    ],
  });
  const [problem] = problemsOf(() => loadPolicySet([source("p.json", doc)]));
  assert.match(problem ?? "", /spec\.variables\[0\]\.expression: unknown variable "variables\.b"/);
});

test("parameters declared twice must agree on their default", () => {
  const param = (d: string) => ({ parameters: [{ name: "edition", description: "d", default: d }] });
  const problems = problemsOf(() => loadPolicySet([source("a.json", policyDoc("a", param("CE"))), source("b.json", policyDoc("b", param("EE")))]));
  assert.deepEqual(problems, ['b.json: spec.parameters[0].default: parameter "edition" has default "EE" here but "CE" in policy "a"']);
});

test("an ipQuery on an index no policy defines is rejected", () => {
  const doc = policyDoc("p", {
    variables: [
      {
        name: "leases",
        lookup: {
          target: { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineIPAddressLease", resource: "virtualmachineipaddressleases" },
          ipQuery: { index: "address", within: "['10.0.0.0/8']" },
        },
      },
    ],
  });
  const [problem] = problemsOf(() => loadPolicySet([source("p.json", doc)]));
  assert.match(problem ?? "", /no policy defines index "address" on virtualization\.deckhouse\.io\/VirtualMachineIPAddressLease/);
});

test("the set records every looked-up kind and every index", () => {
  const target = { apiVersion: "v1", kind: "Node", resource: "nodes" };
  const doc = policyDoc("p", {
    indexes: [{ name: "address", target, type: "ip", key: "object.status.addresses.map(a, a.address)" }],
    variables: [{ name: "nodes", lookup: { target, ipQuery: { index: "address", within: "['10.0.0.0/8']" } } }],
  });
  const set = loadPolicySet([source("p.json", doc)]);
  assert.deepEqual([...set.targets.keys()], ["/Node"]);
  assert.equal(set.indexes.length, 1);
  assert.deepEqual(set.indexes[0]?.keysOf({ status: { addresses: [{ address: "10.1.1.1" }, { address: "10.1.1.2" }] } }), ["10.1.1.1", "10.1.1.2"]);
  assert.deepEqual(set.indexes[0]?.keysOf({ metadata: {} }), [], "an object the key expression cannot read is not indexed");
});

test("equal sources give equal hashes; a changed source changes the hash", () => {
  const a = loadPolicySet([source("p.json", policyDoc("p"))]);
  const b = loadPolicySet([source("p.json", policyDoc("p"))]);
  const c = loadPolicySet([source("p.json", policyDoc("p", { description: "changed" }))]);
  assert.equal(a.hash, b.hash);
  assert.notEqual(a.hash, c.hash);
});
