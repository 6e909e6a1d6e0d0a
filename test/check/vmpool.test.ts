import assert from "node:assert/strict";
import { test } from "node:test";
import { runCheck } from "../../src/check/run.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { fromParent } from "../../src/engine/embedded.js";
import { DVP_CRDS } from "../support/paths.js";
import { tempTree } from "./helpers.js";

const pool = (name: string, cores: number, extra = "") => `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachinePool
metadata:
  name: ${name}
  namespace: prod
spec:
  replicas: 3
  scaleDownPolicy: NewestFirst
  virtualDiskTemplates:
    - name: root
      reclaim: {onScaleDown: Delete}
      spec:
        persistentVolumeClaim: {size: 10Gi}
  virtualMachineTemplate:
    metadata:
      labels: {app: w}
    spec:
      virtualMachineClassName: roomy
      liveMigrationPolicy: PreferSafe
      cpu:
        cores: ${cores}
        coreFraction: 100%
      memory:
        size: 8Gi
      blockDeviceRefs:
        - kind: VirtualDisk
          name: root${extra}
`;

const ROOMY = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachineClass
metadata:
  name: roomy
spec:
  cpu: {type: Host}
`;

async function check(files: Record<string, string>) {
  return runCheck({ paths: [tempTree(files)], policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true } });
}

test("a VirtualMachinePool whose template has 300 cores is denied by the VM policies, naming the template's field and line", async () => {
  const report = await check({ "pool.yaml": pool("workers", 300), "class.yaml": ROOMY });
  const workers = report.objects.find((o) => o.name === "workers");
  assert.ok(workers);
  assert.equal(workers.status, "denied");
  assert.deepEqual(
    workers.findings.map((f) => `${f.line} ${f.action} [${f.policy}] ${f.message}`),
    [
      "21 Deny [vm-resource-limits] spec.virtualMachineTemplate.spec.cpu.cores is 300; a VirtualMachine may have at most 248 cores. Set spec.virtualMachineTemplate.spec.cpu.cores to 248 or fewer",
    ],
  );
  assert.ok(workers.policies.includes("vmpool-template") && workers.policies.includes("vm-resource-limits"));
});

test("a pool with a sound template is allowed; a pool name over 57 characters is denied as DVP's pool webhook does", async () => {
  const ok = await check({ "pool.yaml": pool("workers", 8), "class.yaml": ROOMY });
  assert.equal(ok.objects.find((o) => o.name === "workers")?.status, "allowed");
  const long = "w".repeat(58);
  const denied = await check({ "pool.yaml": pool(long, 8), "class.yaml": ROOMY });
  assert.deepEqual(denied.objects.find((o) => o.name === long)?.findings.map((f) => f.policy), ["vmpool-template"]);
});

test("the template's VirtualMachine finds its class in the tree, and a missing class warns with the template's path", async () => {
  const report = await check({ "pool.yaml": pool("workers", 8) });
  const messages = report.objects[0]?.findings.map((f) => `${f.action} ${f.message}`) ?? [];
  assert.equal(messages.length, 1);
  assert.match(messages[0] ?? "", /^Warn spec\.virtualMachineTemplate\.spec\.virtualMachineClassName is roomy, but VirtualMachineClass "roomy" does not exist yet/);
});

test("paths in findings about an embedded object are given from the parent", () => {
  const f = (message: string) => fromParent({ policy: "p", action: "Deny", message }, "spec.template").message;
  assert.equal(f("spec.cpu.cores is 9; set spec.cpu.cores to 8 (not spec.cpu.coresX)"), "spec.template.spec.cpu.cores is 9; set spec.template.spec.cpu.cores to 8 (not spec.cpu.coresX)");
  assert.equal(f("metadata.labels[0] is bad"), "spec.template.metadata.labels[0] is bad");
  assert.equal(f("no path here"), "spec.template: no path here");
});
