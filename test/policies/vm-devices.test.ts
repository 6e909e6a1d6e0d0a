import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-devices";

/** vm-basic.yaml named NAME in tenant-a with the given USB devices and GPU classes. */
function vm(usb: string[], gpus: string[] = [], name = "web", namespace?: string): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  const metadata = object.metadata as JsonObject;
  metadata.name = name;
  if (namespace) metadata.namespace = namespace;
  const spec = object.spec as JsonObject;
  if (usb.length) spec.usbDevices = usb.map((n) => ({ name: n }));
  if (gpus.length) spec.gpus = gpus.map((g) => ({ gpuClassName: g }));
  return object;
}

/** The controller's Deployment with these --feature-gates and API server feature gates. */
function controller(flagGates: string, apiServerGates: string[]): JsonObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "virtualization-controller", namespace: "d8-virtualization" },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: "virtualization-controller",
              args: [`--feature-gates=${flagGates}`],
              env: [{ name: "KUBE_APISERVER_FEATURE_GATES", value: JSON.stringify(apiServerGates) }],
            },
          ],
        },
      },
    },
  };
}

const DRA = ["DRAResourceClaimDeviceStatus", "DRADeviceBindingConditions", "DRAConsumableCapacity"];

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ context: [fixture("class/host-sized-v1alpha3.yaml"), fixture("moduleconfig/virtualization.yaml"), ...(opts.context ?? [])], ...opts, params: { featureGates: ["USB", "GPU"], ...opts.params } });
}

const mine = (j: Judgement) => j.denials.filter((d) => d.startsWith(`[${POLICY}] `));

describe(POLICY, () => {
  test("USB devices and GPUs with their gates, and VMs without devices, are allowed", () => {
    assert.deepEqual(mine(run({ object: vm(["usb-1", "usb-2"], ["nvidia-h100"]) })), []);
    assert.deepEqual(mine(run({ object: vm([]), params: { featureGates: [] } })), []);
  });

  test("USB devices without the USB feature are denied, naming them and what the feature needs", () => {
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), params: { featureGates: [] } })), [
      `[${POLICY}] spec.usbDevices lists usb-1; attaching USB devices needs the USB feature, which needs the EE edition, Kubernetes 1.34 or newer and the API server's DRA feature gates (DRAResourceClaimDeviceStatus, DRADeviceBindingConditions, DRAConsumableCapacity), and the virtualization controller does not have it (its gates: none). Remove spec.usbDevices, or have the administrator enable the DRA feature gates on a Kubernetes 1.34 or newer EE cluster`,
    ]);
  });

  test("with the controller's Deployment, the USB feature is derived from the edition, the Kubernetes version and the API server's DRA gates", () => {
    const on = controller("SDN=true", DRA);
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), context: [on], params: { edition: "EE", kubernetesVersion: "v1.34.1" } })), []);
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), context: [on], params: { edition: "EE" } })), [], "an unknown version does not count against it");
    assert.match(mine(run({ object: vm(["usb-1"]), context: [on], params: { edition: "EE", kubernetesVersion: "v1.33.9" } })).join(), /does not have it \(edition EE, API server feature gates: .*read from Deployment d8-virtualization\/virtualization-controller\)/);
    assert.equal(mine(run({ object: vm(["usb-1"]), context: [on], params: { edition: "CE", kubernetesVersion: "v1.34.1" } })).length, 1);
    assert.equal(mine(run({ object: vm(["usb-1"]), context: [controller("SDN=true", DRA.slice(1))], params: { edition: "EE", kubernetesVersion: "v1.34.1" } })).length, 1);
  });

  test("a USB device listed twice is denied", () => {
    assert.deepEqual(mine(run({ object: vm(["usb-1", "usb-2", "usb-1"]) })), [
      `[${POLICY}] spec.usbDevices lists usb-1 more than once; a USB device is attached once. Remove the duplicate entries`,
    ]);
  });

  test("a USB device another VirtualMachine of the namespace uses is denied when newly listed, not when kept", () => {
    const other = vm(["usb-1"], [], "db");
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), context: [other] })), [
      `[${POLICY}] spec.usbDevices lists usb-1, which VirtualMachine tenant-a/db already uses; a USB device is attached to one VirtualMachine at a time. Detach it there first, or choose another device`,
    ]);
    assert.deepEqual(mine(run({ object: vm(["usb-1", "usb-2"]), oldObject: vm(["usb-1"]), context: [other] })), [], "kept devices are not re-checked");
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), context: [vm(["usb-1"], [], "db", "tenant-b")] })), [], "another namespace's device of the same name");
    assert.deepEqual(mine(run({ object: vm(["usb-1"]), oldObject: vm([]), context: [vm(["usb-1"])] })), [], "the VirtualMachine itself, as stored");
  });

  test("GPUs without the GPU gate are denied on CREATE and when they change, not when kept or reordered", () => {
    const off = { featureGates: [] };
    assert.deepEqual(mine(run({ object: vm([], ["nvidia-h100"]), params: off })), [
      `[${POLICY}] spec.gpus lists nvidia-h100; attaching GPUs needs the GPU feature gate, which the virtualization controller does not run with (its gates: none). Remove spec.gpus, or have the administrator add GPU to the virtualization ModuleConfig's spec.settings.featureGates`,
    ]);
    assert.deepEqual(mine(run({ object: vm([], ["a", "b"]), oldObject: vm([], ["b", "a"]), params: off })), []);
    assert.deepEqual(mine(run({ object: vm([], ["a"]), oldObject: vm([], ["a", "b"]), params: off })).length, 1);
    assert.deepEqual(mine(run({ object: vm([], ["nvidia-h100"]), context: [controller("SDN=true,GPU=true", [])], params: { featureGates: [] } })), [], "GPU read from the Deployment");
  });

  test("a VirtualMachine being deleted is not checked", () => {
    const deleting = vm(["usb-1", "usb-1"], ["x"]);
    (deleting.metadata as JsonObject).deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(mine(run({ object: deleting, oldObject: vm([]), params: { featureGates: [] } })), []);
  });
});
