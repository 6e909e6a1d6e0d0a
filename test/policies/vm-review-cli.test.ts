import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { CLI, FIXTURES } from "../support/paths.js";
import { admissionReview } from "../support/review.js";

// `virtguard review` as a process, for the VM policies: the verdict, every message, warnings, parameters.
const dir = mkdtempSync(join(tmpdir(), "virtguard-vm-review-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Output {
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] };
}

function review(object: JsonObject, args: string[], oldObject?: JsonObject): Output {
  const file = join(dir, `review-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(admissionReview({ object, ...(oldObject ? { oldObject } : {}) })));
  const run = spawnSync(process.execPath, [CLI, "review", ...args, file], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Output;
}

const context = (name: string) => ["--context", join(FIXTURES, name)];

describe("virtguard review with the VM policies", () => {
  test("a VirtualMachine that fits its class is allowed", () => {
    const out = review(fixture("vm/vm-basic.yaml"), [...context("class/host-sized-v1alpha3.yaml"), ...context("moduleconfig/virtualization.yaml")]);
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.warnings, undefined);
  });

  test("every sizing and topology violation is in one denial, each naming its policy and the values to use", () => {
    const object = fixture("vm/vm-basic.yaml");
    const spec = object.spec as { virtualMachineClassName: string; cpu: JsonObject; memory: JsonObject };
    spec.virtualMachineClassName = "tiered";
    spec.cpu = { cores: 7, coreFraction: "30%" };
    spec.memory = { size: "20Gi" };
    const out = review(object, context("vm/class-tiered-v1alpha2.yaml"));
    assert.equal(out.response.allowed, false);
    assert.equal(out.response.status?.code, 403);
    const message = out.response.status?.message ?? "";
    assert.match(message, /\[vm-class-sizing\] spec\.cpu\.coreFraction is 30%; .*allows only 20%, 50%, 100%/);
    assert.match(message, /\[vm-class-sizing\] spec\.cpu\.cores is 7; .*Use 6 or 8 cores/);
    assert.match(message, /\[vm-class-sizing\] spec\.memory\.size is 20Gi, .*Set spec\.memory\.size to 14Gi or less/);
  });

  test("featureGates comes from --param, and warnings ride along with an allowed response", () => {
    const object = fixture("vm/vm-basic.yaml");
    const spec = object.spec as { cpu: JsonObject; osType: string; virtualMachineClassName: string };
    spec.cpu = { cores: 4, coreFraction: "Auto" };
    spec.osType = "Legacy";
    spec.virtualMachineClassName = "autoscaled";
    const ctx = context("vm/class-autoscaled-v1alpha2.yaml");
    const denied = review(object, [...ctx, "--param", 'featureGates=["SDN"]']);
    assert.equal(denied.response.allowed, false);
    assert.match(denied.response.status?.message ?? "", /needs the VerticalVirtualMachineAutoscaler feature gate, .*\(its gates: SDN\)/);
    const allowed = review(object, [...ctx, "--param", 'featureGates=["VerticalVirtualMachineAutoscaler","HotplugCPUAndMemoryWithInPlaceResize"]']);
    assert.equal(allowed.response.allowed, true);
    assert.deepEqual(allowed.response.warnings?.length, 1);
    assert.match(allowed.response.warnings?.[0] ?? "", /^\[vm-production-guidance\] spec\.osType is Legacy/);
  });

  test("a missing class only warns; the static IP and networks rules read the ModuleConfig from context", () => {
    const object = fixture("vm/vm-basic.yaml");
    (object.spec as JsonObject).virtualMachineIPAddressName = "db-ip";
    (object.spec as JsonObject).networks = [{ type: "Network", name: "storage" }];
    const out = review(object, [...context("vm/moduleconfig-no-cidrs.yaml"), "--param", 'featureGates=["SDN"]']);
    assert.equal(out.response.allowed, false);
    const message = out.response.status?.message ?? "";
    assert.match(message, /\[vm-static-ip\] spec\.virtualMachineIPAddressName is db-ip, but the virtualization ModuleConfig has no spec\.settings\.virtualMachineCIDRs/);
    assert.match(message, /\[vm-static-ip\] spec\.virtualMachineIPAddressName is db-ip, but spec\.networks does not include the Main network/);
    assert.match(out.response.warnings?.join("\n") ?? "", /VirtualMachineClass "host-sized" does not exist yet/);
  });

  test("an UPDATE of a VirtualMachine being deleted is allowed whatever it holds", () => {
    const object = fixture("vm/vm-basic.yaml");
    (object.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    (object.spec as { cpu: JsonObject }).cpu = { cores: 250, coreFraction: "Auto" };
    (object.metadata as JsonObject).labels = { "kubevirt.io/x": "y" };
    const out = review(object, context("moduleconfig/virtualization.yaml"), fixture("vm/vm-basic.yaml"));
    assert.equal(out.response.allowed, true);
    assert.equal(out.response.warnings, undefined);
  });
});
