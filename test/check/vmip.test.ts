import assert from "node:assert/strict";
import { test } from "node:test";
import { runCheck } from "../../src/check/run.js";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { DVP_CRDS } from "../support/paths.js";
import { tempTree } from "./helpers.js";

// vmip-static-address, through check: the ModuleConfig, leases and other addresses as the cluster.

const MC = `apiVersion: deckhouse.io/v1alpha1
kind: ModuleConfig
metadata: {name: virtualization}
spec:
  enabled: true
  version: 1
  settings:
    virtualMachineCIDRs: [10.66.10.0/24, 10.77.0.0/16]
    dvcr: {storage: {type: PersistentVolumeClaim, persistentVolumeClaim: {size: 50G}}}
`;

const vmip = (name: string, spec: string, namespace = "prod") =>
  `---\napiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddress\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;

const lease = (ip: string, owner: string, reason: string) =>
  `---\napiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachineIPAddressLease\nmetadata: {name: ip-${ip.replaceAll(".", "-")}}\nspec: {virtualMachineIPAddressRef: {name: ${owner}, namespace: prod}}\nstatus: {conditions: [{type: Bound, status: "True", reason: ${reason}}]}\n`;

async function verdicts(manifests: string, context = ""): Promise<Record<string, string[]>> {
  const dir = tempTree({ "all.yaml": manifests, "ctx/leases.yaml": context || "{}\n" });
  const report = await runCheck({ paths: [`${dir}/all.yaml`], context: [`${dir}/ctx`], policies: SHIPPED_POLICIES, crds: { dir: DVP_CRDS, required: true } });
  return Object.fromEntries(report.objects.filter((o) => o.kind === "VirtualMachineIPAddress").map((o) => [o.name, o.findings.map((f) => `${f.action} ${f.message}`)]));
}

test("a static address inside virtualMachineCIDRs is allowed; outside, or the first or last of a range, it is denied", async () => {
  const v = await verdicts(MC + vmip("inside", "{type: Static, staticIP: 10.66.10.23}") + vmip("outside", "{type: Static, staticIP: 10.99.0.5}") + vmip("first", "{type: Static, staticIP: 10.77.0.0}") + vmip("last", "{type: Static, staticIP: 10.66.10.255}") + vmip("auto", "{type: Auto}"));
  assert.deepEqual(v.inside, []);
  assert.deepEqual(v.auto, []);
  for (const name of ["outside", "first", "last"]) {
    assert.equal(v[name]?.length, 1, name);
    assert.match(v[name]?.[0] ?? "", /^Deny spec\.staticIP is [\d.]+, which is outside the usable addresses of virtualMachineCIDRs \(10\.66\.10\.0\/24, 10\.77\.0\.0\/16;/);
  }
});

test("an address held by an unreleased lease of another address, or claimed by another VirtualMachineIPAddress, is denied", async () => {
  const context = lease("10.77.3.4", "someone", "Bound") + lease("10.77.3.5", "someone", "Released") + lease("10.77.3.6", "mine", "Bound");
  const v = await verdicts(MC + vmip("taken", "{type: Static, staticIP: 10.77.3.4}") + vmip("released", "{type: Static, staticIP: 10.77.3.5}") + vmip("mine", "{type: Static, staticIP: 10.77.3.6}") + vmip("a", "{type: Static, staticIP: 10.66.10.9}") + vmip("b", "{type: Static, staticIP: 10.66.10.9}", "other"), context);
  assert.deepEqual(v.taken, ["Deny spec.staticIP is 10.77.3.4, which VirtualMachineIPAddressLease ip-10-77-3-4 already holds and has not released. Choose another address"]);
  assert.deepEqual(v.released, []);
  assert.deepEqual(v.mine, [], "its own lease does not block a re-apply");
  assert.deepEqual(v.a, ["Deny spec.staticIP is 10.66.10.9, which VirtualMachineIPAddress other/b also claims. Choose another address"]);
  assert.deepEqual(v.b, ["Deny spec.staticIP is 10.66.10.9, which VirtualMachineIPAddress prod/a also claims. Choose another address"]);
});

test("type and staticIP must agree, and without virtualMachineCIDRs no address can be created", async () => {
  const v = await verdicts(MC + vmip("nostatic", "{type: Static}") + vmip("autoip", "{type: Auto, staticIP: 10.77.3.5}"));
  assert.deepEqual(v.nostatic, ["Deny spec.staticIP is missing; a VirtualMachineIPAddress of type Static needs one. Set spec.staticIP, or use type Auto"]);
  assert.match(v.autoip?.[0] ?? "", /^Deny spec\.staticIP is 10\.77\.3\.5, but spec\.type is Auto/);
  const none = await verdicts(MC.replace("    virtualMachineCIDRs: [10.66.10.0/24, 10.77.0.0/16]\n", "") + vmip("auto", "{type: Auto}"));
  assert.match(none.auto?.[0] ?? "", /^Deny the virtualization ModuleConfig has no spec\.settings\.virtualMachineCIDRs/);
  // No ModuleConfig known: the range is not judged (an assumption would be a guess).
  const unknown = await verdicts(vmip("somewhere", "{type: Static, staticIP: 192.0.2.10}"));
  assert.deepEqual(unknown.somewhere, []);
});
