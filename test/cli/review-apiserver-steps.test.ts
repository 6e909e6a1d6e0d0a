import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeYaml } from "../../src/yaml/write.js";
import { admissionReview } from "../support/review.js";
import { runCli } from "../check/helpers.js";

// `review` shapes a hand-written review as the API server would before calling the webhook
// (issue #12): namespace of cluster-scoped kinds cleared, nulls pruned, schema and platform defaults.

const dir = mkdtempSync(join(tmpdir(), "virtguard-review-steps-"));
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

interface ReviewOut {
  response: { uid: string; allowed: boolean; status?: { message: string }; warnings?: string[] };
}

// A default class as kustomize renders it: with a namespace the API server would clear.
const defaultClass = writeYaml({
  apiVersion: "virtualization.deckhouse.io/v1alpha2",
  kind: "VirtualMachineClass",
  metadata: { name: "small", namespace: "team-a", annotations: { "virtualmachineclass.virtualization.deckhouse.io/is-default-class": "true" } },
  spec: { cpu: { type: "Host" }, sizingPolicies: [{ cores: { min: 1, max: 4 }, memory: { min: "1Gi", max: "8Gi" }, coreFractions: [100] }] },
});

function vm(cores: number) {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: "vm1", namespace: "team-a" },
    // No class name, and a Helm-style null the schema does not allow.
    spec: { cpu: { cores, coreFraction: "100%" }, memory: { size: "4Gi" }, blockDeviceRefs: [{ kind: "VirtualDisk", name: "root" }], runPolicy: null },
  };
}

test("a VM without a class name is judged against the default class from a context file whose namespace kustomize set", async () => {
  const ctx = file("class.yaml", defaultClass);
  const tooBig = file("big.json", JSON.stringify(admissionReview({ object: vm(8), uid: "u-8" })));
  const fits = file("fits.json", JSON.stringify(admissionReview({ object: vm(2), uid: "u-2" })));

  const denied = await runCli(["review", "--context", ctx, tooBig]);
  assert.equal(denied.code, 0, denied.stderr);
  const out = JSON.parse(denied.stdout) as ReviewOut;
  assert.equal(out.response.allowed, false);
  assert.match(out.response.status?.message ?? "", /spec\.cpu\.cores is 8; VirtualMachineClass "small" has no sizing policy for that many cores \(allowed core ranges: 1-4\)/);

  const allowed = await runCli(["review", "--context", ctx, fits]);
  assert.equal(allowed.code, 0, allowed.stderr);
  const ok = JSON.parse(allowed.stdout) as ReviewOut;
  assert.equal(ok.response.allowed, true);
  // The class is found (no "does not exist yet"), and the null runPolicy is no schema problem.
  assert.equal((ok.response.warnings ?? []).filter((w) => /does not exist|must be/.test(w)).length, 0, JSON.stringify(ok.response.warnings));
  assert.doesNotMatch(allowed.stderr, /would reject/);
});

test("a ModuleConfig whose settings are empty (YAML null) is not denied for the null", async () => {
  const mc = { apiVersion: "deckhouse.io/v1alpha1", kind: "ModuleConfig", metadata: { name: "virtualization" }, spec: { enabled: true, version: 1, settings: null } };
  const review = file("mc.json", JSON.stringify(admissionReview({ object: mc, uid: "mc-1" })));
  const { code, stdout, stderr } = await runCli(["review", review]);
  assert.equal(code, 0, stderr);
  const out = JSON.parse(stdout) as ReviewOut;
  assert.doesNotMatch(out.response.status?.message ?? "", /must be object/);
  assert.equal((out.response.warnings ?? []).some((w) => /must be object/.test(w)), false);
  // Pruned before the schema check: no "would reject" note (settings: "x" gets one, below).
  assert.doesNotMatch(stderr, /would reject/);
  const wrong = file("mc-wrong.json", JSON.stringify(admissionReview({ object: { ...mc, spec: { ...mc.spec, settings: "x" } }, uid: "mc-2" })));
  const noted = await runCli(["review", wrong]);
  assert.match(noted.stderr, /would reject the object before any webhook: spec\.settings: /);
});

test("a cluster-scoped object's namespace is cleared before the policies, and a schema-invalid object is noted on stderr", async () => {
  const cls = {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachineClass",
    metadata: { name: "broken", namespace: "team-a" },
    spec: { cpu: { type: "NoSuchType" } },
  };
  const review = file("cls.json", JSON.stringify(admissionReview({ object: cls, uid: "c-1" })));
  const { code, stdout, stderr } = await runCli(["review", review]);
  assert.equal(code, 0, stderr);
  assert.equal((JSON.parse(stdout) as ReviewOut).response.uid, "c-1");
  assert.match(stderr, /note: .*cls\.json: the API server would reject the object before any webhook: spec\.cpu\.type: /);
});
