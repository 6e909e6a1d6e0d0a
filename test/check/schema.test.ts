import assert from "node:assert/strict";
import { appendFileSync, cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadCrdsFor } from "../../src/schema/crds-for.js";
import { runCheck, type CheckOptions } from "../../src/check/run.js";
import { DVP_CRDS } from "../support/paths.js";
import { CHECK, CHECK_POLICIES, ROOMY_CLASS, runCli, tempTree, vmYaml } from "./helpers.js";

function check(paths: string[], more: Partial<CheckOptions> = {}) {
  return runCheck({ paths, policies: CHECK_POLICIES, crds: { dir: DVP_CRDS, required: true }, ...more });
}

const DRIFTED = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: drifted
  namespace: tenant-a
spec:
  virtualMachineClassName: roomy
  cpu:
    cores: 300
    coreFraction: 150%
  cpuCores: 2
  memory:
    size: 8Gi
  blockDeviceRefs: []
`;

test("schema first: a CRD schema error is a denial with its path and line, and the policies do not run on that object", async () => {
  const dir = tempTree({ "drifted.yaml": DRIFTED, "class.yaml": ROOMY_CLASS });
  const report = await check([dir]);
  const vm = report.objects.find((o) => o.name === "drifted");
  assert.equal(vm?.status, "denied");
  assert.equal(vm?.schema, "invalid");
  assert.deepEqual(vm?.policies, [], "the API server rejects the object before any webhook");
  const findings = vm?.findings.map((f) => `${f.line} ${f.action} [${f.policy}] ${f.path}: ${f.message}`);
  assert.ok(findings?.includes("11 Deny [schema] spec.cpuCores: spec.cpuCores: unknown field"), findings?.join("\n"));
  assert.ok(
    findings?.some((f) => f.startsWith("8 Deny [schema] spec.cpu:") || f.startsWith("10 Deny [schema] spec.cpu.coreFraction:")),
    findings?.join("\n"),
  );
  assert.ok(!findings?.some((f) => f.includes("test-vm-cores")), "300 cores are not judged by policies on a schema-invalid object");
  assert.equal(report.objects.find((o) => o.kind === "VirtualMachineClass")?.schema, "valid");
});

test("schema first: a kind the CRDs know at a version no CRD serves is a schema error", async () => {
  const dir = tempTree({ "vm.yaml": vmYaml("future", 2).replace("v1alpha2", "v1alpha9") });
  const [vm] = (await check([dir])).objects;
  assert.deepEqual(vm?.findings.map((f) => f.message), ["apiVersion: no CRD serves VirtualMachine at virtualization.deckhouse.io/v1alpha9"]);
});

test("defaults from the schema are applied before the policies run, so CI and the cluster agree", async () => {
  const legacy = join(CHECK, "legacy-vm.yaml");
  const withCrds = await check([legacy]);
  assert.deepEqual(
    withCrds.objects[0]?.findings.map((f) => `${f.action} [${f.policy}]`),
    ["Warn [test-vm-class]", "Warn [test-vm-legacy-paravirt]"],
    "enableParavirtualization defaults to true",
  );
  // Without the CRDs the policy reads a field the manifest does not have, and fails.
  const empty = mkdtempSync(join(tmpdir(), "virtguard-nocrds-"));
  const withoutCrds = await check([legacy], { crds: { dir: empty, required: true } });
  assert.equal(withoutCrds.objects[0]?.schema, "unknown");
  assert.ok(withoutCrds.objects[0]?.findings.some((f) => f.policy === "test-vm-legacy-paravirt" && /could not be evaluated/.test(f.message)));
});

test("CRDs compiled at run time: only the kinds and versions present are compiled", async () => {
  const vm = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", metadata: { name: "x" } };
  // A copy with a changed file: the build's precompiled validators do not apply to it.
  const dir = mkdtempSync(join(tmpdir(), "virtguard-crds-"));
  cpSync(DVP_CRDS, dir, { recursive: true, dereference: true });
  appendFileSync(join(dir, "virtualmachines.yaml"), "\n# edited\n");
  const { schemas, resources } = loadCrdsFor(dir, [vm]);
  assert.ok(schemas.knows(vm));
  assert.ok(!schemas.knows({ apiVersion: "virtualization.deckhouse.io/v1alpha3", kind: "VirtualMachineClass" }));
  assert.equal(resources.get("virtualization.deckhouse.io/VirtualMachine"), "virtualmachines");
});

test("the virtualization ModuleConfig's settings are validated against config-values.yaml", async () => {
  const dir = tempTree({
    "mc.yaml": "apiVersion: deckhouse.io/v1alpha1\nkind: ModuleConfig\nmetadata:\n  name: virtualization\nspec:\n  enabled: true\n  version: 1\n  settings:\n    virtualMachineCIDRs: []\n",
  });
  const [mc] = (await check([dir])).objects;
  assert.equal(mc?.status, "denied");
  assert.deepEqual(mc?.findings.map((f) => `${f.line} ${f.message}`), [
    "8 spec.settings.dvcr: Required value",
    "9 spec.settings.virtualMachineCIDRs: must NOT have fewer than 1 items",
  ]);
});

test("a missing default CRD directory is a note on stderr; a missing --crds DIR is an error (exit 2)", async () => {
  const notes: string[] = [];
  const report = await check([join(CHECK, "repo")], { crds: { dir: "/nonexistent/dvp", required: false }, log: (l) => notes.push(l) });
  assert.equal(report.objects[0]?.schema, "unknown");
  assert.ok(notes.some((n) => n.includes("no CRD directory at /nonexistent/dvp")), notes.join("\n"));
  const { code, stdout, stderr } = await runCli(["check", "--crds", "/nonexistent/dvp", join(CHECK, "repo")]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^virtguard: \/nonexistent\/dvp: cannot read CRD directory: ENOENT$/m);
});
