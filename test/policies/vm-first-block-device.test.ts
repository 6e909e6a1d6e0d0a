import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judgeCleanly, type Judgement, type JudgeOptions } from "../support/judge.js";

const POLICY = "vm-first-block-device";

/** vm-basic.yaml (tenant-a) with these block devices. */
function vm(refs: JsonObject[]): JsonObject {
  const object = fixture("vm/vm-basic.yaml");
  (object.spec as JsonObject).blockDeviceRefs = refs;
  return object;
}

/** A VirtualImage (with a namespace) or ClusterVirtualImage (without) in this phase. */
function image(name: string, phase: string, cdrom: boolean | undefined, namespace?: string): JsonObject {
  const status: JsonObject = { phase };
  if (cdrom !== undefined) status.cdrom = cdrom;
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: namespace ? "VirtualImage" : "ClusterVirtualImage",
    metadata: namespace ? { name, namespace } : { name },
    spec: { dataSource: { type: "HTTP", http: { url: "https://example.com/image.qcow2" } } },
    status,
  };
}

function run(opts: JudgeOptions): Judgement {
  return judgeCleanly({ ...opts, context: [fixture("class/host-sized-v1alpha3.yaml"), fixture("moduleconfig/virtualization.yaml"), ...(opts.context ?? [])] });
}

const mine = (j: Judgement) => j.denials.filter((d) => d.startsWith(`[${POLICY}] `));
const ubuntu: JsonObject = { kind: "VirtualImage", name: "ubuntu" };
const disk: JsonObject = { kind: "VirtualDisk", name: "root" };

describe(POLICY, () => {
  test("a Ready image that is not a CD-ROM cannot come first, naming it and what to do", () => {
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]), context: [image("ubuntu", "Ready", false, "tenant-a")] })), [
      `[${POLICY}] spec.blockDeviceRefs[0] is VirtualImage ubuntu, which is Ready and not a CD-ROM image; a non-CD-ROM image cannot be the first block device, the one the VirtualMachine boots from. Put a VirtualDisk first (created from the image, if it holds the system), or use a CD-ROM image there`,
    ]);
    assert.equal(mine(run({ object: vm([{ kind: "ClusterVirtualImage", name: "ubuntu" }]), context: [image("ubuntu", "Ready", undefined)] })).length, 1, "no cdrom in the status: not a CD-ROM");
  });

  test("a CD-ROM image, an image not Ready or not there, another namespace's image, or an image later in the list are allowed", () => {
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]), context: [image("ubuntu", "Ready", true, "tenant-a")] })), []);
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]), context: [image("ubuntu", "Provisioning", false, "tenant-a")] })), []);
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]) })), []);
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]), context: [image("ubuntu", "Ready", false, "tenant-b")] })), []);
    assert.deepEqual(mine(run({ object: vm([disk, ubuntu]), context: [image("ubuntu", "Ready", false, "tenant-a")] })), []);
  });

  test("an UPDATE is judged only when the block devices change", () => {
    const context = [image("ubuntu", "Ready", false, "tenant-a")];
    assert.deepEqual(mine(run({ object: vm([ubuntu, disk]), oldObject: vm([ubuntu, disk]), context })), []);
    assert.equal(mine(run({ object: vm([ubuntu, disk]), oldObject: vm([disk, ubuntu]), context })).length, 1);
  });
});
