import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";

const POLICY = "[vmclass-sizing-policies]";

type Policy = JsonObject & { cores?: JsonObject; memory?: JsonObject & { perCore?: JsonObject }; coreFractions?: (number | string)[] };

function v2(): JsonObject {
  return fixture("class/host-sized-v1alpha2.yaml");
}
function v3(): JsonObject {
  return fixture("class/host-sized-v1alpha3.yaml");
}
function policies(c: JsonObject): Policy[] {
  return (c.spec as { sizingPolicies: Policy[] }).sizingPolicies;
}
/** A class whose sizing policies have exactly these core ranges, other fields kept from the fixture. */
function withRanges(c: JsonObject, ...ranges: [number, number][]): JsonObject {
  const template = policies(c)[0] as Policy;
  (c.spec as { sizingPolicies: Policy[] }).sizingPolicies = ranges.map(([min, max]) => ({ ...structuredClone(template), cores: { min, max } }));
  return c;
}
/**
 * A message with the class name it opens with checked and taken out, so expectations read as the
 * rule: every message about a class names it first (kubectl does not say which object of a
 * multi-document apply a denial is about).
 */
function unnamed(m: string): string {
  assert.match(m, /^\[vmclass-sizing-policies\] VirtualMachineClass "[a-z0-9.-]+": spec\./, m);
  return m.replace(/^(\[vmclass-sizing-policies\]) VirtualMachineClass "[a-z0-9.-]+":/, "$1");
}
function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY)).map(unnamed);
}
function assertNoErrors(j: Judgement): void {
  for (const d of j.denials) assert.doesNotMatch(d, /could not be evaluated/, d);
}

describe("vmclass-sizing-policies: core ranges", () => {
  for (const [version, make] of [
    ["v1alpha2", v2],
    ["v1alpha3", v3],
  ] as const) {
    test(`${version}: the fixture with adjacent ranges [1-4] and [5-8] is allowed`, () => {
      const j = judge({ object: make() });
      assert.deepEqual(j.denials, []);
      assert.equal(j.response.allowed, true);
    });

    test(`${version}: ranges sharing a bound overlap ([1-4] and [4-9])`, () => {
      const j = judge({ object: withRanges(make(), [1, 4], [4, 9], [10, 15]) });
      assert.equal(j.response.allowed, false);
      assert.deepEqual(mine(j), [
        `${POLICY} spec.sizingPolicies[0].cores [1-4] overlaps spec.sizingPolicies[1].cores [4-9]. Core ranges of sizing policies must not overlap (both bounds count); change them so that each core count falls into at most one policy`,
      ]);
    });

    test(`${version}: three disjoint ranges are allowed`, () => {
      assert.deepEqual(mine(judge({ object: withRanges(make(), [1, 4], [5, 9], [10, 15]) })), []);
    });
  }

  test("a nested range overlaps when the outer range comes first (DVP misses this case)", () => {
    const j = judge({ object: withRanges(v3(), [1, 10], [3, 5]) });
    assert.equal(j.response.allowed, false);
    assert.equal(mine(j).length, 1);
    assert.match(mine(j)[0] as string, /spec\.sizingPolicies\[0\]\.cores \[1-10\] overlaps spec\.sizingPolicies\[1\]\.cores \[3-5\]/);
  });

  test("a nested range overlaps when the inner range comes first", () => {
    const j = judge({ object: withRanges(v2(), [3, 5], [1, 10]) });
    assert.equal(j.response.allowed, false);
    assert.match(mine(j)[0] as string, /spec\.sizingPolicies\[0\]\.cores \[3-5\] overlaps spec\.sizingPolicies\[1\]\.cores \[1-10\]/);
  });

  test("every overlapping pair is reported, with both ranges and their indexes", () => {
    const j = judge({ object: withRanges(v3(), [1, 10], [20, 30], [5, 6], [8, 25]) });
    assert.equal(mine(j).length, 1);
    const msg = mine(j)[0] as string;
    for (const pair of [
      "spec.sizingPolicies[0].cores [1-10] overlaps spec.sizingPolicies[2].cores [5-6]",
      "spec.sizingPolicies[0].cores [1-10] overlaps spec.sizingPolicies[3].cores [8-25]",
      "spec.sizingPolicies[1].cores [20-30] overlaps spec.sizingPolicies[3].cores [8-25]",
    ]) {
      assert.ok(msg.includes(pair), `missing "${pair}" in ${msg}`);
    }
    assert.ok(!msg.includes("[2].cores [5-6] overlaps spec.sizingPolicies[3]"), msg);
  });

  test("identical ranges overlap", () => {
    const j = judge({ object: withRanges(v2(), [2, 4], [2, 4]) });
    assert.match(mine(j)[0] as string, /\[0\]\.cores \[2-4\] overlaps spec\.sizingPolicies\[1\]\.cores \[2-4\]/);
  });

  test("overlaps are denied on UPDATE too", () => {
    const old = v3();
    const j = judge({ object: withRanges(v3(), [1, 4], [3, 8]), oldObject: old });
    assert.equal(j.response.allowed, false);
    assert.match(mine(j)[0] as string, /\[1-4\] overlaps spec\.sizingPolicies\[1\]\.cores \[3-8\]/);
  });

  test("an UPDATE of a class being deleted is allowed without checks", () => {
    const c = withRanges(v3(), [1, 10], [3, 5]);
    (c.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    const j = judge({ object: c, oldObject: structuredClone(c) });
    assert.deepEqual(j.denials, []);
    assert.deepEqual(j.warnings, []);
  });

  test("a sizing policy without cores is denied, not an evaluation error", () => {
    const c = v2();
    delete policies(c)[1]?.cores;
    const j = judge({ object: c });
    assertNoErrors(j);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.sizingPolicies[1] has no cores range; every sizing policy needs integer cores.min and cores.max. Add them, e.g. cores: {min: 1, max: 4}`,
    ]);
  });

  test("more than 16 sizing policies are denied", () => {
    const ranges = Array.from({ length: 17 }, (_, i) => [i * 2 + 1, i * 2 + 2] as [number, number]);
    const j = judge({ object: withRanges(v3(), ...ranges) });
    assertNoErrors(j);
    assert.ok(mine(j).some((d) => d.includes("spec.sizingPolicies has 17 entries; a VirtualMachineClass may have at most 16")), mine(j).join("\n"));
  });

  test("16 disjoint sizing policies are allowed", () => {
    const ranges = Array.from({ length: 16 }, (_, i) => [i * 2 + 1, i * 2 + 2] as [number, number]);
    assert.deepEqual(mine(judge({ object: withRanges(v3(), ...ranges) })), []);
  });
});

describe("vmclass-sizing-policies: memory bounds", () => {
  test("memory.min above memory.max is denied, values as the object spells them", () => {
    const c = v3();
    Object.assign(policies(c)[0]?.memory as JsonObject, { min: "8Gi", max: "4096Mi" });
    const j = judge({ object: c });
    assert.deepEqual(mine(j), [
      `${POLICY} spec.sizingPolicies[0].memory.min is 8Gi, above memory.max 4096Mi. memory.min must not exceed memory.max; lower min or raise max`,
    ]);
  });

  test("integer quantities are compared with string ones", () => {
    const c = v2();
    Object.assign(policies(c)[0]?.memory as JsonObject, { min: "2Gi", max: 1073741824 });
    assert.match(mine(judge({ object: c }))[0] as string, /memory\.min is 2Gi, above memory\.max 1073741824/);
    Object.assign(policies(c)[0]?.memory as JsonObject, { min: 1073741824, max: "1Gi" });
    assert.deepEqual(mine(judge({ object: c })), [], "equal bounds are fine");
  });

  test("memory.perCore.min above memory.perCore.max is denied", () => {
    const c = v2();
    Object.assign(policies(c)[1]?.memory?.perCore as JsonObject, { min: "4Gi", max: "1Gi" });
    assert.deepEqual(mine(judge({ object: c })), [
      `${POLICY} spec.sizingPolicies[1].memory.perCore.min is 4Gi, above memory.perCore.max 1Gi. memory.perCore.min must not exceed memory.perCore.max; lower min or raise max`,
    ]);
  });

  test("a bound given alone, or no memory section, is fine", () => {
    const c = v3();
    delete policies(c)[0]?.memory?.max;
    delete policies(c)[1]?.memory;
    assert.deepEqual(mine(judge({ object: c })), []);
  });
});

describe("vmclass-sizing-policies: core fractions", () => {
  test("v1alpha2: integers outside 1-100 are denied, each named", () => {
    const c = v2();
    (policies(c)[0] as Policy).coreFractions = [0, 5, 101, 100];
    assert.deepEqual(mine(judge({ object: c })), [
      `${POLICY} spec.sizingPolicies[0].coreFractions has 0, 101; each core fraction must be an integer percentage from 1 to 100, e.g. 50. Correct or remove those values`,
    ]);
  });

  test("v1alpha3: out-of-range and malformed strings are violations, not evaluation errors", () => {
    const c = v3();
    (policies(c)[0] as Policy).coreFractions = ["0%", "5%", "150%", "abc", "Auto", "50"];
    (policies(c)[1] as Policy).coreFractions = ["100%", "1%"];
    const j = judge({ object: c });
    assertNoErrors(j);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.sizingPolicies[0].coreFractions has "0%", "150%", "abc", "Auto", "50"; each core fraction must be a percentage from 1% to 100%, e.g. "50%". Correct or remove those values`,
    ]);
  });

  test("v1alpha3: 1% and 100% are the bounds", () => {
    const c = v3();
    (policies(c)[0] as Policy).coreFractions = ["1%", "99%", "100%"];
    assert.deepEqual(mine(judge({ object: c })), []);
  });
});

describe("vmclass-sizing-policies: several violations", () => {
  test("overlaps, bounds and fractions are all reported in one response", () => {
    const c = withRanges(v3(), [1, 8], [4, 6]);
    Object.assign(policies(c)[0]?.memory as JsonObject, { min: "16Gi", max: "8Gi" });
    (policies(c)[1] as Policy).coreFractions = ["200%"];
    (policies(c)[1] as Policy).memory = { perCore: { min: "2Gi", max: "512Mi" } };
    const j = judge({ object: c });
    assert.equal(j.response.allowed, false);
    const d = mine(j);
    assert.equal(d.length, 4, d.join("\n"));
    assert.ok(d.some((m) => m.includes("[0].cores [1-8] overlaps spec.sizingPolicies[1].cores [4-6]")));
    assert.ok(d.some((m) => m.includes("spec.sizingPolicies[0].memory.min is 16Gi, above memory.max 8Gi")));
    assert.ok(d.some((m) => m.includes("spec.sizingPolicies[1].memory.perCore.min is 2Gi, above memory.perCore.max 512Mi")));
    assert.ok(d.some((m) => m.includes('spec.sizingPolicies[1].coreFractions has "200%"')));
    const status = j.response.status as { code: number; message: string };
    assert.equal(status.code, 403);
    assert.ok(status.message.includes("overlaps") && status.message.includes("200%"), status.message);
  });
});

test("every message names the class it judges, as kubectl does not say which object of an apply was denied", () => {
  const c = withRanges(v3(), [1, 4], [4, 9]);
  (c.metadata as JsonObject).name = "gold-tier";
  const [message] = judge({ object: c }).denials.filter((d) => d.startsWith(POLICY));
  assert.match(message ?? "", /^\[vmclass-sizing-policies\] VirtualMachineClass "gold-tier": spec\.sizingPolicies\[0\]\.cores \[1-4\] overlaps spec\.sizingPolicies\[1\]\.cores \[4-9\]/);
});
