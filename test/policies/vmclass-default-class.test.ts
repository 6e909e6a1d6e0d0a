import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";

const POLICY = "[vmclass-default-class]";
const ANNOTATION = "virtualmachineclass.virtualization.deckhouse.io/is-default-class";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
function meta(c: JsonObject): JsonObject & { name: string; annotations?: Record<string, string> } {
  return c.metadata as JsonObject & { name: string; annotations?: Record<string, string> };
}
/** The host-sized class of the given version, marked default with this annotation value (undefined: not annotated). */
function hostSized(version: "v1alpha2" | "v1alpha3", value?: string): JsonObject {
  const c = fixture(`class/host-sized-${version}.yaml`);
  if (value !== undefined) meta(c).annotations = { [ANNOTATION]: value };
  return c;
}
/** The cluster's current default class, "generic" (v1alpha3). */
function generic(): JsonObject {
  return fixture("class/default-v1alpha3.yaml");
}

describe("vmclass-default-class", () => {
  for (const version of ["v1alpha2", "v1alpha3"] as const) {
    test(`${version}: creating the only default class is allowed`, () => {
      const j = judge({ object: hostSized(version, "true"), context: [hostSized("v1alpha3")] });
      assert.deepEqual(j.denials, []);
    });

    test(`${version}: creating a second default class is denied, naming the current default`, () => {
      const j = judge({ object: hostSized(version, "true"), context: [generic()] });
      assert.equal(j.response.allowed, false);
      assert.deepEqual(mine(j), [
        `${POLICY} VirtualMachineClass generic is already the default class; at most one class may carry ${ANNOTATION}="true". Remove the annotation from generic first, or drop it here`,
      ]);
    });
  }

  test("marking an existing class default while another is default is denied on UPDATE", () => {
    const old = hostSized("v1alpha3");
    const j = judge({ object: hostSized("v1alpha3", "true"), oldObject: old, context: [old, generic()] });
    assert.equal(j.response.allowed, false);
    assert.match(mine(j)[0] as string, /VirtualMachineClass generic is already the default class/);
  });

  test("updating the default class itself is allowed (it is excluded by name)", () => {
    const current = generic();
    const updated = generic();
    (updated.spec as { sizingPolicies: JsonObject[] }).sizingPolicies[0]!.defaultCoreFraction = "20%";
    const j = judge({ object: updated, oldObject: current, context: [current, hostSized("v1alpha2")] });
    assert.deepEqual(j.denials, []);
  });

  test("a class that is not default is allowed whatever the others are", () => {
    const j = judge({ object: hostSized("v1alpha2"), context: [generic()] });
    assert.deepEqual(j.denials, []);
  });

  test("a class annotated with a value other than \"true\" does not count as default", () => {
    const other = hostSized("v1alpha2", "true");
    meta(other).name = "legacy";
    meta(other).annotations = { [ANNOTATION]: "false" };
    const j = judge({ object: hostSized("v1alpha3", "true"), context: [other] });
    assert.deepEqual(j.denials, []);
  });

  for (const value of ["false", "True", "yes", ""]) {
    test(`the annotation value ${JSON.stringify(value)} is denied`, () => {
      const j = judge({ object: hostSized("v1alpha3", value), context: [generic()] });
      assert.equal(j.response.allowed, false);
      // Only the value is wrong: a class with a non-"true" value is not a second default.
      assert.deepEqual(mine(j), [
        `${POLICY} metadata.annotations[${ANNOTATION}] is "${value}"; the only allowed value is "true". Set it to "true" to make this the default class, or remove the annotation`,
      ]);
    });
  }

  test("several defaults already present are all named", () => {
    const second = generic();
    meta(second).name = "generic-2";
    const j = judge({ object: hostSized("v1alpha3", "true"), context: [generic(), second] });
    assert.match(mine(j)[0] as string, /VirtualMachineClass generic, generic-2 are already the default class/);
  });

  test("a class being deleted is not checked", () => {
    const c = hostSized("v1alpha3", "maybe");
    meta(c).deletionTimestamp = "2025-01-01T00:00:00Z";
    const j = judge({ object: c, oldObject: structuredClone(c), context: [generic()] });
    assert.deepEqual(j.denials, []);
  });
});
