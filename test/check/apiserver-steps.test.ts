import assert from "node:assert/strict";
import { test } from "node:test";
import { runCheck } from "../../src/check/run.js";
import type { ObjectResult } from "../../src/check/report.js";
import { parseDefaults, PlatformError } from "../../src/policy-files/platform.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { DVP_CRDS } from "../support/paths.js";
import { tempTree } from "./helpers.js";

// The API server's own steps and DVP's defaulting, before the shipped policies run.

async function check(files: Record<string, string>, extra: { context?: string[]; policies?: string } = {}) {
  const dir = tempTree(files);
  return runCheck({ paths: [dir], policies: extra.policies ?? SHIPPED_POLICIES, context: extra.context, crds: { dir: DVP_CRDS, required: true } });
}

function byName(objects: readonly ObjectResult[], name: string): ObjectResult {
  const found = objects.find((o) => o.name === name);
  assert.ok(found, `no object named ${name}`);
  return found;
}

const messages = (o: ObjectResult) => o.findings.map((f) => `${f.action} [${f.policy}] ${f.message}`);

const vm = (name: string, spec: string) => `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: ${name}
  namespace: prod
spec:
${spec}
  memory: {size: 4Gi}
  blockDeviceRefs:
    - {kind: VirtualDisk, name: ${name}-root}
`;

const cls = (name: string, extra = "", annotations = "") => `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: ${name}
  namespace: prod${annotations}
spec:
  cpu: {type: Host${extra}}
  sizingPolicies:
    - cores: {min: 1, max: 8}
      coreFractions: [50, 100]
`;

const DEFAULT = `\n  annotations:\n    virtualmachineclass.virtualization.deckhouse.io/is-default-class: "true"`;

test("a ModuleConfig with settings left empty (YAML null) is not denied: the API server prunes the null", async () => {
  const report = await check({
    "mc.yaml": "apiVersion: deckhouse.io/v1alpha1\nkind: ModuleConfig\nmetadata:\n  name: virtualization\nspec:\n  enabled: true\n  version: 1\n  settings:\n",
  });
  const mc = byName(report.objects, "virtualization");
  assert.equal(mc.schema, "valid");
  assert.deepEqual(mc.findings, []);
});

test("Helm-rendered nulls on fields that are not nullable are pruned before validation and defaulting", async () => {
  const report = await check({ "vm.yaml": vm("web", "  virtualMachineClassName: generic\n  osType: null\n  cpu: {cores: 2, coreFraction: 10%}\n  runPolicy: null").replace("  name: web\n", "  name: web\n  labels: null\n") });
  const web = byName(report.objects, "web");
  assert.equal(web.schema, "valid", messages(web).join("\n"));
  assert.ok(!messages(web).some((m) => m.includes("[schema]")));
});

test("kustomize's namespace on a cluster-scoped class is cleared: VMs in the tree find the class", async () => {
  const report = await check({ "class.yaml": cls("mine"), "vm.yaml": vm("web", "  virtualMachineClassName: mine\n  cpu: {cores: 2, coreFraction: 50%}") });
  const mine = byName(report.objects, "mine");
  assert.equal(mine.namespace, undefined);
  assert.deepEqual(messages(byName(report.objects, "web")), []);
  assert.equal(byName(report.objects, "web").status, "allowed");
});

test("a VM without a class name, beside a default class, is judged against that class", async () => {
  const report = await check({ "class.yaml": cls("mine", "", DEFAULT), "vm.yaml": vm("big", "  cpu: {cores: 12, coreFraction: 50%}") });
  const big = byName(report.objects, "big");
  assert.equal(big.schema, "valid");
  assert.deepEqual(messages(big), [
    'Deny [vm-class-sizing] spec.cpu.cores is 12; VirtualMachineClass "mine" has no sizing policy for that many cores (allowed core ranges: 1-8). Set spec.cpu.cores within one of these ranges or choose another class',
  ]);
});

test("the default class may come from the context; without any default class the schema's Required value stands", async () => {
  const context = tempTree({ "classes.yaml": cls("ctx-default", "", DEFAULT).replace("  namespace: prod\n", "") });
  const withContext = await check({ "vm.yaml": vm("small", "  cpu: {cores: 2, coreFraction: 50%}") }, { context: [context] });
  assert.equal(byName(withContext.objects, "small").status, "allowed");
  const without = await check({ "vm.yaml": vm("small", "  cpu: {cores: 2, coreFraction: 50%}") });
  assert.deepEqual(messages(byName(without.objects, "small")), ["Deny [schema] spec.virtualMachineClassName: Required value"]);
  // Two default classes: DVP refuses to pick one, and so does the check.
  const two = await check({ "a.yaml": cls("a", "", DEFAULT), "b.yaml": cls("b", "", DEFAULT), "vm.yaml": vm("small", "  cpu: {cores: 2, coreFraction: 50%}") });
  assert.ok(messages(byName(two.objects, "small")).includes("Deny [schema] spec.virtualMachineClassName: Required value"));
});

test("a context file's cluster-scoped class keeps no kustomize namespace: VMs find it as the cluster would", async () => {
  const context = tempTree({ "classes.yaml": cls("ctx-default", "", DEFAULT) });
  const result = await check({ "vm.yaml": vm("big", "  cpu: {cores: 12, coreFraction: 50%}") }, { context: [context] });
  const found = messages(byName(result.objects, "big"));
  assert.ok(found.some((m) => /VirtualMachineClass "ctx-default" has no sizing policy for that many cores/.test(m)), found.join("\n"));
  assert.ok(!found.some((m) => /does not exist/.test(m)), found.join("\n"));
});

test("the generic class DVP creates at install is known to exist; a class of that name in the manifests replaces it", async () => {
  const report = await check({ "vm.yaml": vm("web", "  virtualMachineClassName: generic\n  cpu: {cores: 2, coreFraction: 10%}") });
  const web = byName(report.objects, "web");
  assert.ok(!messages(web).some((m) => m.includes("does not exist")), messages(web).join("\n"));
  assert.deepEqual(web.findings.map((f) => f.policy), ["vm-production-guidance"]);
  // 6 cores at 10% is outside the shipped generic class (5-8 cores: 20, 50 or 100%).
  const wrongFraction = await check({ "vm.yaml": vm("web", "  virtualMachineClassName: generic\n  cpu: {cores: 6, coreFraction: 10%}") });
  assert.ok(messages(byName(wrongFraction.objects, "web")).some((m) => m.startsWith("Deny [vm-class-sizing] spec.cpu.coreFraction is 10%")), messages(byName(wrongFraction.objects, "web")).join("\n"));
  const replaced = await check({ "generic.yaml": cls("generic"), "vm.yaml": vm("web", "  virtualMachineClassName: generic\n  cpu: {cores: 6, coreFraction: 50%}") });
  assert.ok(!messages(byName(replaced.objects, "web")).some((m) => m.startsWith("Deny")));
});

test("a manifest its schema denies is no context: its dependants say why they fail", async () => {
  const report = await check({ "class.yaml": cls("mine", ", bogus: 1"), "vm.yaml": vm("web", "  virtualMachineClassName: mine\n  cpu: {cores: 2, coreFraction: 50%}") });
  assert.deepEqual(messages(byName(report.objects, "mine")), ["Deny [schema] spec.cpu.bogus: unknown field"]);
  const web = messages(byName(report.objects, "web"));
  assert.equal(web.length, 1);
  assert.match(web[0] ?? "", /^Warn \[vm-class-sizing\] .*"mine" does not exist yet.* \(the cluster would not have VirtualMachineClass\/mine \(.*class\.yaml:1\): denied by its schema\)$/);
});

test("platform defaults files are checked: a bad rule names the file and the field", () => {
  assert.throws(() => parseDefaults("d.json", "{"), (e: unknown) => e instanceof PlatformError && /^d\.json: not valid JSON/.test(e.message));
  assert.throws(() => parseDefaults("d.json", '{"defaults": [{"name": "x", "description": "y", "target": "VirtualMachine", "field": "spec.a", "nameOf": {"kind": "g/K", "annotations": {"a": "b"}}}]}'), /d\.json: defaults\[0\]\.target: must be "group\/Kind"/);
  assert.throws(() => parseDefaults("d.json", '{"defaults": [{"name": "x", "description": "y", "target": "g/VM", "field": "spec.a", "nameOf": {"kind": "g/K", "annotations": {}}}]}'), /nameOf\.annotations: must map/);
});

test("a finding that rests on a parameter left at its default says so, with the flag to set it", async () => {
  const networks = "  virtualMachineClassName: generic\n  cpu: {cores: 2, coreFraction: 10%}\n  networks:\n    - type: Main\n    - type: ClusterNetwork\n      name: cn-1003";
  const dir = tempTree({ "vm.yaml": vm("multi", networks) });
  const assumed = await runCheck({ paths: [dir], policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true } });
  const denial = byName(assumed.objects, "multi").findings.find((f) => f.policy === "vm-networks");
  assert.ok(denial, messages(byName(assumed.objects, "multi")).join("\n"));
  assert.match(denial.message, / \(assuming featureGates=\[\], the default: pass --param featureGates=\.\.\. with what the cluster runs\)$/);
  // With the parameter given, the gate is known: no denial, no assumption.
  const given = await runCheck({ paths: [dir], params: ['featureGates=["SDN"]'], policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true } });
  assert.deepEqual(byName(given.objects, "multi").findings.map((f) => f.policy), ["vm-production-guidance"]);
  assert.ok(byName(given.objects, "multi").findings.every((f) => !f.message.includes("assuming")));
  // With the controller's Deployment in the context, its --feature-gates are the fact: no assumption.
  const controller = tempTree({
    "controller.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: virtualization-controller, namespace: d8-virtualization}
spec:
  template:
    spec:
      containers:
        - name: virtualization-controller
          args: ["--feature-gates=UploadViaAPIGateway=true"]
`,
  });
  const known = await runCheck({ paths: [dir], context: [controller], policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true } });
  const fact = byName(known.objects, "multi").findings.find((f) => f.policy === "vm-networks");
  assert.ok(fact, messages(byName(known.objects, "multi")).join("\n"));
  assert.match(fact.message, /its gates: UploadViaAPIGateway, read from Deployment d8-virtualization\/virtualization-controller\)/);
  assert.ok(!fact.message.includes("assuming"), fact.message);
});
