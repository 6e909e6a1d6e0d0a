import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge } from "../support/judge.js";

const WARNING =
  "[vmclass-guidance] spec.sizingPolicies is empty; without sizing policies a VirtualMachine of any size (cores, memory, core fraction) may use this class. Add sizing policies to guard against VMs of unsuitable size";

function spec(c: JsonObject): JsonObject {
  return c.spec as JsonObject;
}

describe("vmclass-guidance: a class without sizing policies", () => {
  for (const version of ["v1alpha2", "v1alpha3"] as const) {
    test(`${version}: no sizingPolicies field is allowed with a warning`, () => {
      const c = fixture(`class/host-sized-${version}.yaml`);
      delete spec(c).sizingPolicies;
      const j = judge({ object: c });
      assert.equal(j.response.allowed, true);
      assert.deepEqual(j.denials, []);
      assert.deepEqual(j.warnings, [WARNING]);
      assert.deepEqual(j.response.warnings, [WARNING]);
    });

    test(`${version}: an empty list is warned about on UPDATE too`, () => {
      const old = fixture(`class/host-sized-${version}.yaml`);
      const c = fixture(`class/host-sized-${version}.yaml`);
      spec(c).sizingPolicies = [];
      const j = judge({ object: c, oldObject: old });
      assert.equal(j.response.allowed, true);
      assert.deepEqual(j.warnings, [WARNING]);
    });

    test(`${version}: a class with sizing policies gets no warning`, () => {
      const j = judge({ object: fixture(`class/host-sized-${version}.yaml`) });
      assert.deepEqual(j.warnings, []);
    });
  }

  test("a class being deleted gets no warning", () => {
    const c = fixture("class/host-sized-v1alpha3.yaml");
    delete spec(c).sizingPolicies;
    (c.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(judge({ object: c, oldObject: structuredClone(c) }).warnings, []);
  });
});
