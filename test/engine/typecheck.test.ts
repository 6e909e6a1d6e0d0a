import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadPolicySet, PolicyLoadError, type JsonObject, type KindSchema } from "../../src/engine/index.js";
import { readKindSchemas } from "../../src/schema/kind-schemas.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { policyDoc, source } from "../support/policy-doc.js";

/** A VirtualMachine kind whose schema knows spec.cpu.cores (int), spec.memory.size (string), a free-form spec.settings and a list of networks. */
const VM_SCHEMA: KindSchema = {
  group: "virtualization.deckhouse.io",
  kind: "VirtualMachine",
  resource: "virtualmachines",
  versions: [
    {
      name: "v1alpha2",
      schema: {
        type: "object",
        properties: {
          apiVersion: { type: "string" },
          kind: { type: "string" },
          metadata: { type: "object" },
          spec: {
            type: "object",
            properties: {
              cpu: { type: "object", properties: { cores: { type: "integer" }, coreFraction: { type: "string" } } },
              memory: { type: "object", properties: { size: { "x-kubernetes-int-or-string": true } } },
              settings: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              networks: { type: "array", maxItems: 16, items: { type: "object", properties: { type: { type: "string" }, name: { type: "string" } } } },
            },
          },
        },
      },
    },
  ],
};

function problemsOf(docs: JsonObject[], schemas: KindSchema[] = [VM_SCHEMA]): string[] {
  try {
    loadPolicySet(
      docs.map((d, i) => source(`p${i}.json`, d)),
      { schemas },
    );
  } catch (err) {
    assert.ok(err instanceof PolicyLoadError, String(err));
    return err.problems.map((p) => `${p.file}: ${p.path}: ${p.message}`);
  }
  return [];
}

const validation = (expression: string, extra: JsonObject = {}) => policyDoc("p", { validations: [{ expression, message: "m", action: "Deny", ...extra }] });

describe("type checking at load", () => {
  test("a validation that is not bool is a load error naming the file and the path", () => {
    assert.deepEqual(problemsOf([validation("object.spec.cpu.cores")]), [
      'p0.json: spec.validations[0].expression: must evaluate to bool, but "object.spec.cpu.cores" has type int',
    ]);
    assert.deepEqual(problemsOf([validation("1 + 2")], []), ['p0.json: spec.validations[0].expression: must evaluate to bool, but "1 + 2" has type int']);
  });

  test("a messageExpression that is not string is a load error", () => {
    assert.deepEqual(problemsOf([validation("true", { messageExpression: "object.spec.cpu.cores * 2" })]), [
      'p0.json: spec.validations[0].messageExpression: must evaluate to string, but "object.spec.cpu.cores * 2" has type int',
    ]);
  });

  test("a field the CRD schema does not declare is a load error, with the fields it does", () => {
    const [problem] = problemsOf([validation("object.spec.cpu.corse <= 4")]);
    assert.equal(problem, 'p0.json: spec.validations[0].expression: unknown field "corse" of object.spec.cpu (its schema declares: coreFraction, cores) in "object.spec.cpu.corse <= 4"');
    assert.match(problemsOf([validation("has(object.spec.cpuu)")]).join(), /unknown field "cpuu" of object\.spec/);
    assert.match(problemsOf([validation("object.spec.networks.all(n, n.tpye == 'Main')")]).join(), /unknown field "tpye" of n /);
  });

  test("an unknown function is a load error", () => {
    assert.match(problemsOf([validation("quantityy(object.spec.memory.size) == 1")]).join(), /spec\.validations\[0\]\.expression: undeclared function "quantityy"/);
  });

  test("operators and overloads are checked: no + between string and int, no method on the wrong type", () => {
    assert.match(problemsOf([validation("true", { messageExpression: "'cores: ' + object.spec.cpu.cores" })]).join(), /no \+ for string and int \(convert with string\(\)\)/);
    assert.match(problemsOf([validation("object.spec.cpu.cores.startsWith('1')")]).join(), /no overload of startsWith accepts int\.startsWith\(string\)/);
    assert.match(problemsOf([validation("object.spec.cpu.cores < 'four'")]).join(), /cannot compare int with string/);
  });

  test("what cannot be known is dyn: preserved unknown fields, int-or-string, kinds without a schema", () => {
    assert.deepEqual(problemsOf([validation("object.spec.settings.anything.at.all == 1")]), []);
    assert.deepEqual(problemsOf([validation("quantity(string(object.spec.memory.size)).sign() > 0")]), []);
    assert.deepEqual(problemsOf([validation("object.spec.whatever == 1")], []), []);
    const lookup = policyDoc("p", {
      variables: [{ name: "cm", lookup: { target: { apiVersion: "v1", kind: "ConfigMap", resource: "configmaps", namespaced: true }, get: { name: "'x'" } } }],
      validations: [{ expression: "variables.cm == null || variables.cm.data.anything == 'y'", message: "m", action: "Deny" }],
    });
    assert.deepEqual(problemsOf([lookup]), []);
  });

  test("variables are typed from their expressions, and later expressions are checked against them", () => {
    const doc = policyDoc("p", {
      variables: [
        { name: "cores", expression: "object.spec.cpu.cores" },
        { name: "names", expression: "object.spec.networks.map(n, n.name)" },
      ],
      validations: [
        { expression: "variables.cores", message: "m", action: "Deny" },
        { expression: "true", messageExpression: "variables.names", action: "Deny" },
      ],
    });
    assert.deepEqual(problemsOf([doc]), [
      'p0.json: spec.validations[0].expression: must evaluate to bool, but "variables.cores" has type int',
      'p0.json: spec.validations[1].messageExpression: must evaluate to string, but "variables.names" has type list(string)',
    ]);
  });

  test("params are typed from the declared parameters' schemas", () => {
    const doc = policyDoc("p", {
      parameters: [{ name: "maxCores", description: "d", schema: { type: "integer" }, default: 8 }],
      validations: [{ expression: "object.spec.cpu.cores <= params.maxCores", messageExpression: "'at most ' + params.maxCores", action: "Deny" }],
    });
    assert.match(problemsOf([doc]).join(), /spec\.validations\[0\]\.messageExpression: no \+ for string and int/);
    assert.match(problemsOf([validation("params.undeclared == 1")]).join(), /unknown field "undeclared" of params/);
  });

  test("an expression estimated to cost too much is a load error; bounded and sorted forms are not", () => {
    // Four deep over an unbounded list: 1000^4 items.
    const items = "object.spec.settings.items";
    const [problem] = problemsOf([validation(`${items}.all(a, ${items}.all(b, ${items}.all(c, ${items}.all(d, a == b || c != d))))`)]);
    assert.match(problem ?? "", /^p0\.json: spec\.validations\[0\]\.expression: estimated cost \d+ exceeds the limit of 10000000000 per expression \(a list without maxItems counts as 1000 items\)/);
    // networks has maxItems 16: pairwise is 256 iterations.
    assert.deepEqual(problemsOf([validation("object.spec.networks.all(a, object.spec.networks.exists_one(b, b.name == a.name))")]), []);
    assert.deepEqual(problemsOf([validation("size(cidr.overlappingPairs(object.spec.settings.cidrs)) == 0")]), []);
  });

  test("the shipped policies check against the CRDs beside them", () => {
    assert.ok(readKindSchemas().some((k) => k.kind === "VirtualMachine"), "the DVP CRDs are found");
    assert.ok(loadPolicyDir().policies.length > 10);
  });
});
