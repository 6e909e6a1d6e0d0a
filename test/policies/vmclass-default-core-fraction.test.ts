import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";

const POLICY = "[vmclass-default-core-fraction]";
const GATES = ["SDN", "VerticalVirtualMachineAutoscaler", "HotplugCPUAndMemoryWithInPlaceResize"];
const GATES_NEEDED =
  "which needs the feature gates VerticalVirtualMachineAutoscaler and HotplugCPUAndMemoryWithInPlaceResize; the virtualization controller runs without";

type Version = "v1alpha2" | "v1alpha3";
type Policy = { coreFractions?: JsonValue[]; defaultCoreFraction?: JsonValue } & JsonObject;

/**
 * A message with the class name it opens with checked and taken out, so expectations read as the
 * rule: every message about a class names it first (kubectl does not say which object of a
 * multi-document apply a denial is about).
 */
function unnamed(m: string): string {
  assert.match(m, /^\[vmclass-default-core-fraction\] VirtualMachineClass "[a-z0-9.-]+": spec\./, m);
  return m.replace(/^(\[vmclass-default-core-fraction\]) VirtualMachineClass "[a-z0-9.-]+":/, "$1");
}
function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY)).map(unnamed);
}
function myWarnings(j: Judgement): string[] {
  return j.warnings.filter((d) => d.startsWith(POLICY)).map(unnamed);
}
function policies(c: JsonObject): Policy[] {
  return (c.spec as { sizingPolicies: Policy[] }).sizingPolicies;
}
/** Spells a percentage the way the version stores it: 50 (v1alpha2) or "50%" (v1alpha3). */
function pct(version: Version, n: number): JsonValue {
  return version === "v1alpha2" ? n : `${n}%`;
}
/** The host-sized class whose first policy has these coreFractions (undefined: none) and default. */
function hostSized(version: Version, fractions: number[] | undefined, def: JsonValue): JsonObject {
  const c = fixture(`class/host-sized-${version}.yaml`);
  const p = policies(c)[0] as Policy;
  if (fractions) p.coreFractions = fractions.map((n) => pct(version, n));
  else delete p.coreFractions;
  p.defaultCoreFraction = def;
  return c;
}
/** The autoscaled class: policy 0 defaults to Auto with 25/50/100, policy 1 to 50 with 50/100. */
function autoscaled(version: Version): JsonObject {
  return fixture(`class/auto-default-${version}.yaml`);
}

for (const version of ["v1alpha2", "v1alpha3"] as const) {
  const p = (n: number) => pct(version, n);
  const shown = (n: number) => (version === "v1alpha2" ? `${n}` : `${n}%`);

  describe(`vmclass-default-core-fraction (${version}): a percentage default`, () => {
    test("a default listed in coreFractions is allowed", () => {
      assert.deepEqual(judge({ object: hostSized(version, [25, 50, 100], p(50)) }).denials, []);
    });

    test("a default missing from coreFractions is denied, naming the value and the list", () => {
      const j = judge({ object: hostSized(version, [25, 50, 100], p(30)) });
      assert.equal(j.response.allowed, false);
      assert.deepEqual(mine(j), [
        `${POLICY} spec.sizingPolicies[0].defaultCoreFraction is ${shown(30)}, not one of its coreFractions (${shown(25)}, ${shown(50)}, ${shown(100)}). Set the default to one of the listed values, or add it to coreFractions`,
      ]);
    });

    test("any default is allowed when the policy lists no coreFractions", () => {
      assert.deepEqual(judge({ object: hostSized(version, undefined, p(30)) }).denials, []);
      assert.deepEqual(judge({ object: hostSized(version, [], p(30)) }).denials, []);
    });

    test("the check is per sizing policy: each default against its own list", () => {
      const c = hostSized(version, [25, 50, 100], p(25));
      (policies(c)[1] as Policy).defaultCoreFraction = p(25); // policy 1 lists 20, 50, 100
      const j = judge({ object: c });
      assert.equal(mine(j).length, 1);
      assert.match(mine(j)[0] as string, new RegExp(`^\\[vmclass-default-core-fraction\\] spec\\.sizingPolicies\\[1\\]\\.defaultCoreFraction is ${shown(25)}, not one of its coreFractions \\(${shown(20)}, ${shown(50)}, ${shown(100)}\\)`));
    });
  });

  describe(`vmclass-default-core-fraction (${version}): Auto`, () => {
    test("Auto with both gates and enough fractions is allowed, and need not be listed", () => {
      const j = judge({ object: autoscaled(version), params: { featureGates: GATES } });
      assert.deepEqual(j.denials, []);
      assert.deepEqual(j.warnings, []);
    });

    test("Auto without the gates is denied, naming the missing gates", () => {
      const j = judge({ object: autoscaled(version) });
      assert.equal(j.response.allowed, false);
      assert.deepEqual(mine(j), [
        `${POLICY} spec.sizingPolicies[0].defaultCoreFraction is Auto, ${GATES_NEEDED} VerticalVirtualMachineAutoscaler and HotplugCPUAndMemoryWithInPlaceResize. Enable both gates (not available in CE) or set an explicit percentage`,
      ]);
    });

    test("Auto with only one of the gates is denied, naming the other", () => {
      const j = judge({ object: autoscaled(version), params: { featureGates: ["VerticalVirtualMachineAutoscaler"] } });
      assert.match(mine(j)[0] as string, /the virtualization controller runs without HotplugCPUAndMemoryWithInPlaceResize\./);
      const k = judge({ object: autoscaled(version), params: { featureGates: ["HotplugCPUAndMemoryWithInPlaceResize"] } });
      assert.match(mine(k)[0] as string, /the virtualization controller runs without VerticalVirtualMachineAutoscaler\./);
    });

    test("Auto is allowed when the policy constrains no core fraction", () => {
      assert.deepEqual(judge({ object: hostSized(version, undefined, "Auto"), params: { featureGates: GATES } }).denials, []);
    });

    for (const fractions of [[50], [50, 100], [100], [50, 50, 100]]) {
      test(`Auto is denied when coreFractions ${JSON.stringify(fractions)} leave fewer than 2 values below 100%`, () => {
        const j = judge({ object: hostSized(version, fractions, "Auto"), params: { featureGates: GATES } });
        assert.equal(j.response.allowed, false);
        const left = fractions.some((f) => f < 100) ? "only 1 core fraction" : "no core fraction";
        assert.deepEqual(mine(j), [
          `${POLICY} spec.sizingPolicies[0].defaultCoreFraction is Auto, but its coreFractions (${fractions.map(shown).join(", ")}) leave ${left} below 100%. The autoscaler needs at least 2 core fractions below 100% to choose from; list more coreFractions or set an explicit default`,
        ]);
      });
    }

    test("two fractions below 100% are enough", () => {
      assert.deepEqual(judge({ object: hostSized(version, [5, 10], "Auto"), params: { featureGates: GATES } }).denials, []);
    });

    test("on CREATE the gate and fraction problems are both reported", () => {
      const j = judge({ object: hostSized(version, [50, 100], "Auto") });
      assert.equal(mine(j).length, 2, mine(j).join("\n"));
      assert.match(mine(j)[0] as string, /is Auto, which needs the feature gates/);
      assert.match(mine(j)[1] as string, /leave only 1 core fraction below 100%/);
    });
  });

  describe(`vmclass-default-core-fraction (${version}): Auto ratchets on UPDATE`, () => {
    test("a class already defaulting to Auto stays editable without the gates, with a warning", () => {
      const old = autoscaled(version);
      const updated = autoscaled(version);
      (policies(updated)[0] as Policy).coreFractions = [25, 50, 75, 100].map(p);
      const j = judge({ object: updated, oldObject: old });
      assert.deepEqual(j.denials, []);
      assert.deepEqual(myWarnings(j), [
        `${POLICY} spec.sizingPolicies[0].defaultCoreFraction stays Auto, but the virtualization controller runs without VerticalVirtualMachineAutoscaler and HotplugCPUAndMemoryWithInPlaceResize; new VirtualMachines with coreFraction Auto will be rejected until that is fixed`,
      ]);
    });

    test("an unrelated change to an Auto class with the gates on is silent", () => {
      const old = autoscaled(version);
      const updated = autoscaled(version);
      (updated.spec as JsonObject).nodeSelector = { matchLabels: { "node-role.kubernetes.io/worker": "" } };
      const j = judge({ object: updated, oldObject: old, params: { featureGates: GATES } });
      assert.deepEqual(j.denials, []);
      assert.deepEqual(j.warnings, []);
    });

    test("the ratchet also covers the fraction count, with a warning", () => {
      const old = autoscaled(version);
      const updated = autoscaled(version);
      (policies(updated)[0] as Policy).coreFractions = [50, 100].map(p);
      const j = judge({ object: updated, oldObject: old, params: { featureGates: GATES } });
      assert.deepEqual(j.denials, []);
      assert.match(myWarnings(j)[0] as string, /stays Auto, but the coreFractions of spec\.sizingPolicies\[0\] leave fewer than 2 values below 100%; new VirtualMachines/);
    });

    test("the transition into Auto on UPDATE is checked", () => {
      const old = hostSized(version, [25, 50, 100], p(50));
      const updated = hostSized(version, [25, 50, 100], "Auto");
      const j = judge({ object: updated, oldObject: old });
      assert.equal(j.response.allowed, false);
      assert.match(mine(j)[0] as string, new RegExp(`spec\\.sizingPolicies\\[0\\]\\.defaultCoreFraction is Auto, ${GATES_NEEDED}`));
      assert.deepEqual(judge({ object: updated, oldObject: old, params: { featureGates: GATES } }).denials, []);
    });

    test("a numeric default is checked on UPDATE whatever the old object had", () => {
      const old = autoscaled(version);
      const updated = autoscaled(version);
      (policies(updated)[1] as Policy).defaultCoreFraction = p(30);
      const j = judge({ object: updated, oldObject: old, params: { featureGates: GATES } });
      assert.match(mine(j)[0] as string, new RegExp(`spec\\.sizingPolicies\\[1\\]\\.defaultCoreFraction is ${shown(30)}, not one of its coreFractions`));
    });
  });
}

describe("vmclass-default-core-fraction: malformed values", () => {
  test("v1alpha2: a string other than Auto is denied", () => {
    const j = judge({ object: hostSized("v1alpha2", [25, 50, 100], "50%") });
    assert.deepEqual(mine(j), [
      `${POLICY} spec.sizingPolicies[0].defaultCoreFraction is "50%"; it must be an integer percentage from 1 to 100 (e.g. 50) or "Auto". Correct it`,
    ]);
  });

  test("v1alpha3: a malformed string or an integer is denied, not an evaluation error", () => {
    for (const [value, shown] of [
      ["abc", '"abc"'],
      ["150%", '"150%"'],
      ["auto", '"auto"'],
      [50, "50"],
    ] as const) {
      const j = judge({ object: hostSized("v1alpha3", [25, 50, 100], value) });
      for (const d of j.denials) assert.doesNotMatch(d, /could not be evaluated/, d);
      assert.deepEqual(mine(j), [
        `${POLICY} spec.sizingPolicies[0].defaultCoreFraction is ${shown}; it must be a percentage from 1% to 100% (e.g. "50%") or "Auto". Correct it`,
      ]);
    }
  });
});

describe("vmclass-default-core-fraction: several violations", () => {
  test("a default outside its list and an Auto without gates are reported together", () => {
    const c = autoscaled("v1alpha3");
    (policies(c)[1] as Policy).defaultCoreFraction = "75%";
    const j = judge({ object: c });
    assert.equal(mine(j).length, 2, mine(j).join("\n"));
    assert.match(mine(j)[0] as string, /spec\.sizingPolicies\[1\]\.defaultCoreFraction is 75%, not one of its coreFractions \(50%, 100%\)/);
    assert.match(mine(j)[1] as string, /spec\.sizingPolicies\[0\]\.defaultCoreFraction is Auto, which needs the feature gates/);
  });

  test("several Auto policies are named in one message", () => {
    const c = autoscaled("v1alpha2");
    (policies(c)[1] as Policy).defaultCoreFraction = "Auto";
    (policies(c)[1] as Policy).coreFractions = [10, 50, 100];
    const j = judge({ object: c });
    assert.match(mine(j)[0] as string, /^\S+ spec\.sizingPolicies\[0\]\.defaultCoreFraction, spec\.sizingPolicies\[1\]\.defaultCoreFraction are Auto, which need the feature gates/);
  });

  test("a class being deleted is not checked", () => {
    const c = autoscaled("v1alpha3");
    (c.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    const j = judge({ object: c, oldObject: hostSized("v1alpha3", [50], "50%") });
    assert.deepEqual(j.denials, []);
  });
});
