import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Counter, Registry } from "prom-client";
import { DecisionTally } from "../../src/admission/decision-tally.js";

function counterWithTally(): { registry: Registry; tally: DecisionTally } {
  const registry = new Registry();
  const tally = new DecisionTally();
  new Counter({
    name: "decisions_total",
    help: "test",
    labelNames: ["decision", "kind", "operation", "policy"],
    registers: [registry],
    collect() {
      tally.flushInto(this);
    },
  });
  return { registry, tally };
}

describe("DecisionTally: decisions counted in maps, exported when the counter is read", () => {
  test("each label set gets its count at scrape, and a second scrape adds nothing twice", async () => {
    const { registry, tally } = counterWithTally();
    for (let i = 0; i < 3; i++) tally.add("VirtualMachine", "CREATE", "vm-limits", "allowed");
    tally.add("VirtualMachine", "CREATE", "vm-limits", "denied");
    tally.add("VirtualMachine", "UPDATE", "vm-limits", "warned");
    tally.add("Pod", "CREATE", "", "error");
    const first = await registry.metrics();
    assert.match(first, /^decisions_total\{decision="allowed",kind="VirtualMachine",operation="CREATE",policy="vm-limits"\} 3$/m);
    assert.match(first, /^decisions_total\{decision="denied",kind="VirtualMachine",operation="CREATE",policy="vm-limits"\} 1$/m);
    assert.match(first, /^decisions_total\{decision="warned",kind="VirtualMachine",operation="UPDATE",policy="vm-limits"\} 1$/m);
    assert.match(first, /^decisions_total\{decision="error",kind="Pod",operation="CREATE",policy=""\} 1$/m);
    assert.doesNotMatch(first, /decision="warned",kind="VirtualMachine",operation="CREATE"/, "no series for a decision never made");
    assert.equal(await registry.metrics(), first, "nothing new: the same totals");
    tally.add("VirtualMachine", "CREATE", "vm-limits", "allowed");
    assert.match(await registry.metrics(), /^decisions_total\{decision="allowed",kind="VirtualMachine",operation="CREATE",policy="vm-limits"\} 4$/m);
  });
});
