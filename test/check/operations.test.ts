import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { asStored } from "../../src/check/apiserver.js";
import { planOperations } from "../../src/check/plan.js";
import { runCheck, type CheckOptions } from "../../src/check/run.js";
import type { ParsedObject } from "../../src/cluster/files.js";
import type { JsonObject } from "../../src/engine/index.js";
import { moduleConfigYaml } from "../support/manifests.js";
import { DVP_CRDS } from "../support/paths.js";
import { CHECK, CHECK_POLICIES, LEASES, ROOMY_CLASS, runCli, tempTree, vmYaml } from "./helpers.js";

const BASE = join(CHECK, "base");
const HEAD = join(CHECK, "head");

function check(paths: string[], more: Partial<CheckOptions> = {}) {
  return runCheck({ paths, policies: CHECK_POLICIES, crds: { dir: DVP_CRDS, required: true }, ...more });
}

function parsed(object: JsonObject, file = "m.yaml", line = 1): ParsedObject {
  return { object, file, line };
}

const cm = (name: string, data: Record<string, string> = {}): JsonObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns" }, data });

test("planning: CREATE by default; UPDATE of the previous version; DELETE only with deletions", async () => {
  const current = [parsed(cm("kept", { a: "2" })), parsed(cm("new"))];
  const previous = [parsed(cm("kept", { a: "1" }), "old.yaml", 3), parsed(cm("gone"), "old.yaml", 9)];
  assert.deepEqual(
    planOperations(current, undefined, false).items.map((i) => `${i.operation} ${i.identity.name}`),
    ["CREATE kept", "CREATE new"],
  );
  const withoutDeletions = planOperations(current, previous, false);
  assert.deepEqual(withoutDeletions.items.map((i) => `${i.operation} ${i.identity.name}`), ["UPDATE kept", "CREATE new"]);
  assert.deepEqual(withoutDeletions.items[0]?.previous?.object, cm("kept", { a: "1" }));
  assert.deepEqual(withoutDeletions.untouched.map((p) => p.line), [9]);
  const withDeletions = planOperations(current, previous, true);
  assert.deepEqual(withDeletions.items.map((i) => `${i.operation} ${i.identity.name}`), ["UPDATE kept", "CREATE new", "DELETE gone"]);
  assert.equal(withDeletions.items[2]?.subject.file, "old.yaml");
});

test("planning: objects are paired by group, kind, namespace and name, whatever their version", async () => {
  const v2 = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineClass", metadata: { name: "c" }, spec: {} };
  const v3 = { ...v2, apiVersion: "virtualization.deckhouse.io/v1alpha3" };
  const other = { ...v2, metadata: { name: "c", namespace: "elsewhere" } };
  const plan = planOperations([parsed(v3), parsed(other)], [parsed(v2)], false);
  assert.deepEqual(plan.items.map((i) => i.operation), ["UPDATE", "CREATE"]);
});

test("planning: a duplicate manifest is noted, and both copies are checked", async () => {
  const plan = planOperations([parsed(cm("x"), "a.yaml", 1), parsed(cm("x"), "b.yaml", 4)], undefined, false);
  assert.equal(plan.items.length, 2);
  assert.deepEqual(plan.notes, ["b.yaml:4: ConfigMap/ns/x is also defined at a.yaml:1; both are checked, the later one serves as context"]);
});

test("as the API server: generation 1 on CREATE; kept when only metadata changed; +1 when the spec changed", async () => {
  const mc = (cidrs: string[], labels: Record<string, string> = {}): JsonObject => ({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization", labels },
    spec: { settings: { virtualMachineCIDRs: cidrs } },
  });
  const gen = (o: JsonObject | null) => (o?.metadata as { generation?: number } | undefined)?.generation;
  const created = asStored({ operation: "CREATE", identity: {} as never, subject: parsed(mc(["10.0.0.0/24"])) }, undefined);
  assert.equal(gen(created.object), 1);
  const relabelled = asStored({ operation: "UPDATE", identity: {} as never, subject: parsed(mc(["10.0.0.0/24"], { a: "b" })), previous: parsed(mc(["10.0.0.0/24"])) }, undefined);
  assert.deepEqual([gen(relabelled.oldObject), gen(relabelled.object)], [1, 1]);
  const changed = asStored({ operation: "UPDATE", identity: {} as never, subject: parsed(mc(["10.0.0.0/25"])), previous: parsed(mc(["10.0.0.0/24"])) }, undefined);
  assert.deepEqual([gen(changed.oldObject), gen(changed.object)], [1, 2]);
});

test("--against: removing a leased CIDR between two directories is caught as an UPDATE", async () => {
  const asCreate = await check([HEAD], { context: [LEASES] });
  assert.equal(asCreate.objects[0]?.operation, "CREATE");
  assert.equal(asCreate.objects[0]?.status, "skipped", "the test policy judges UPDATEs only");

  const report = await check([HEAD], { context: [LEASES], against: [BASE] });
  const [mc] = report.objects;
  assert.equal(mc?.operation, "UPDATE");
  assert.equal(mc?.status, "denied");
  assert.deepEqual(
    mc?.findings.map((f) => `${f.file.slice(CHECK.length + 1)}:${f.line} [${f.policy}] ${f.message}`),
    ["head/moduleconfig.yaml:10 [test-keep-leased-cidrs] spec.settings.virtualMachineCIDRs: removing 10.66.10.0/24 strands lease ip-10-66-10-23"],
  );
});

test("--against: narrowing a CIDR that keeps every leased address covered is allowed", async () => {
  const head = tempTree({ "moduleconfig.yaml": moduleConfigYaml(["10.66.10.0/25", "10.66.20.0/23"]) });
  const report = await check([head], { context: [LEASES], against: [BASE] });
  assert.equal(report.objects[0]?.operation, "UPDATE");
  assert.equal(report.objects[0]?.status, "allowed");
});

test("--against with --deletions: an object only in the previous manifests is judged as a DELETE at its old file and line", async () => {
  const base = tempTree({ "vms.yaml": `${vmYaml("keep", 2)}---\n${vmYaml("prod-db", 2, "").replace("  name: prod-db\n", "  name: prod-db\n  labels:\n    protected: \"true\"\n")}` });
  const head = tempTree({ "vms.yaml": vmYaml("keep", 2), "class.yaml": ROOMY_CLASS });
  const without = await check([head], { against: [base] });
  assert.deepEqual(without.objects.map((o) => `${o.operation} ${o.kind}/${o.name}`), ["CREATE VirtualMachineClass/roomy", "UPDATE VirtualMachine/keep"]);
  const report = await check([head], { against: [base], deletions: true });
  assert.deepEqual(report.objects.map((o) => `${o.operation} ${o.kind}/${o.name} ${o.status}`), [
    "CREATE VirtualMachineClass/roomy skipped",
    "UPDATE VirtualMachine/keep allowed",
    "DELETE VirtualMachine/prod-db denied",
  ]);
  const deleted = report.objects[2];
  assert.equal(deleted?.file, join(base, "vms.yaml"));
  assert.equal(deleted?.line, 17);
  assert.deepEqual(deleted?.findings.map((f) => f.message), ["VirtualMachine prod-db is protected; remove the protected label before deleting it"]);
});

test("the object under judgment is absent from the context on CREATE and at its previous version on UPDATE, as in the cluster", async () => {
  const policies = tempTree({
    "self.json": JSON.stringify({
      apiVersion: "policies.virtguard.io/v1alpha1",
      kind: "ValidationPolicy",
      metadata: { name: "sees-self" },
      spec: {
        description: "Reports what a lookup of the object itself returns.",
        match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE", "UPDATE"] }] },
        variables: [
          {
            name: "stored",
            lookup: { target: { apiVersion: "v1", kind: "ConfigMap", resource: "configmaps", namespaced: true }, get: { name: "object.metadata.name" }, onMissing: "Null" },
          },
        ],
        validations: [
          {
            expression: "false",
            messageExpression: "variables.stored == null ? 'absent' : 'stored: ' + variables.stored.data.v",
            action: "Warn",
          },
        ],
      },
    }),
  });
  const cmYaml = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {v: "${v}"}\n`;
  const head = tempTree({ "c.yaml": cmYaml("new"), "d.yaml": cmYaml("x").replace("name: c", "name: d") });
  const base = tempTree({ "c.yaml": cmYaml("old") });
  const report = await runCheck({ paths: [head], policies, against: [base] });
  assert.deepEqual(report.objects.map((o) => `${o.operation} ${o.name}: ${o.findings[0]?.message}`), ["UPDATE c: stored: old", "CREATE d: absent"]);
});

test("CLI, shipped policies: the leased-CIDR removal between the merge base and the pull request is denied", async () => {
  const { code, stdout, stderr } = await runCli(["check", "--context", LEASES, "--against", BASE, HEAD]);
  assert.equal(code, 1, stderr);
  const [line, summary] = stdout.trimEnd().split("\n");
  assert.match(line ?? "", /^.*head\/moduleconfig\.yaml:10 {2}ModuleConfig\/virtualization {2}DENY {2}\[moduleconfig-leased-subnets\] .*ip-10-66-10-23.*10\.66\.10\.0\/24/);
  assert.match(summary ?? "", /^1 object in 1 file: 1 denied/);
  const asCreate = await runCli(["check", "--context", LEASES, HEAD]);
  assert.equal(asCreate.code, 0, asCreate.stdout);
});
