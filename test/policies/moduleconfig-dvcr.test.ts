import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";
import { nextGeneration, settingsOf } from "../support/moduleconfig.js";

const POLICY = "[moduleconfig-dvcr]";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
/** The stored virtualization ModuleConfig: DVCR on a 50G PVC of StorageClass linstor-thin-r1. */
function stored(): JsonObject {
  return fixture("moduleconfig/virtualization.yaml");
}
/** The stored config with DVCR PVC settings changed and the generation bumped. */
function withPVC(change: Record<string, JsonValue | undefined>, from: JsonObject = stored()): JsonObject {
  return nextGeneration(from, (settings) => {
    const pvc = ((settings.dvcr as JsonObject).storage as JsonObject).persistentVolumeClaim as JsonObject;
    for (const [k, v] of Object.entries(change)) {
      if (v === undefined) delete pvc[k];
      else pvc[k] = v;
    }
  });
}
function dvcrPVC(): JsonObject {
  return fixture("cluster/dvcr-pvc.yaml");
}
function update(change: Record<string, JsonValue | undefined>, context: JsonObject[] = [dvcrPVC()], from: JsonObject = stored()): Judgement {
  return judge({ object: withPVC(change, from), oldObject: from, context });
}

describe("moduleconfig-dvcr", () => {
  test("growing the volume is allowed", () => {
    assert.deepEqual(update({ size: "60G" }).denials, []);
    assert.deepEqual(update({ size: "100Gi" }).denials, []);
  });

  test("the same size in other units is not a shrink", () => {
    assert.deepEqual(update({ size: "50000M" }).denials, []);
  });

  test("shrinking the volume is denied, showing old and new size", () => {
    const j = update({ size: "40G" });
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.dvcr.storage.persistentVolumeClaim.size is 40G, was 50G; the DVCR PVC d8-virtualization/dvcr already exists and cannot shrink. Set size to 50G or more`,
    ]);
    // 46Gi is 49.4G: smaller, although the number is not.
    assert.match(mine(update({ size: "46Gi" }))[0] as string, /size is 46Gi, was 50G/);
  });

  test("changing the StorageClass is denied, showing old and new", () => {
    const j = update({ storageClassName: "ceph-rbd" });
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.dvcr.storage.persistentVolumeClaim.storageClassName is "ceph-rbd", was "linstor-thin-r1"; the DVCR PVC d8-virtualization/dvcr already exists and its StorageClass cannot change. Set it back to "linstor-thin-r1"`,
    ]);
  });

  test("dropping or setting storageClassName counts as a change", () => {
    assert.match(mine(update({ storageClassName: undefined }))[0] as string, /storageClassName is unset, was "linstor-thin-r1"; .* Set it back to "linstor-thin-r1"$/);
    const unset = withPVC({ storageClassName: undefined });
    (unset.metadata as JsonObject).generation = 3;
    const j = update({ storageClassName: "linstor-thin-r1" }, [dvcrPVC()], unset);
    assert.match(mine(j)[0] as string, /storageClassName is "linstor-thin-r1", was unset \(the default StorageClass\); .* Remove storageClassName$/);
  });

  test("both violations are reported together", () => {
    assert.equal(mine(update({ storageClassName: "ceph-rbd", size: "10G" })).length, 2);
  });

  test("before the PVC exists, anything goes", () => {
    assert.deepEqual(update({ storageClassName: "ceph-rbd", size: "10G" }, []).denials, []);
    const elsewhere = dvcrPVC();
    (elsewhere.metadata as JsonObject).namespace = "default";
    assert.deepEqual(update({ storageClassName: "ceph-rbd", size: "10G" }, [elsewhere]).denials, []);
  });

  test("an unparseable new size is denied while the PVC exists", () => {
    assert.deepEqual(mine(update({ size: "lots" })), [
      `${POLICY} spec.settings.dvcr.storage.persistentVolumeClaim.size is "lots", not a quantity; the DVCR PVC d8-virtualization/dvcr exists and needs a size such as 50G`,
    ]);
  });

  test("an integer size (as YAML may give) is compared as a quantity", () => {
    assert.deepEqual(update({ size: 60000000000 }).denials, []);
    assert.match(mine(update({ size: 1000 }))[0] as string, /size is 1000, was 50G/);
  });

  test("other ModuleConfigs, and UPDATEs with an unchanged generation, are untouched", () => {
    const other = fixture("moduleconfig/other-module.yaml");
    const otherNew = structuredClone(other);
    settingsOf(otherNew).dvcr = { storage: { type: "PersistentVolumeClaim", persistentVolumeClaim: { size: "1G" } } };
    (otherNew.metadata as JsonObject).generation = 3;
    assert.deepEqual(judge({ object: otherNew, oldObject: other, context: [dvcrPVC()] }).denials, []);

    const sameGeneration = withPVC({ size: "1G" });
    (sameGeneration.metadata as JsonObject).generation = 3;
    assert.deepEqual(judge({ object: sameGeneration, oldObject: stored(), context: [dvcrPVC()] }).denials, []);
  });

  test("a config without dvcr settings does not crash", () => {
    const bare = stored();
    delete settingsOf(bare).dvcr;
    (bare.metadata as JsonObject).generation = 4;
    assert.deepEqual(judge({ object: bare, oldObject: stored(), context: [dvcrPVC()] }).denials, []);
    // Nothing was configured before, so there is nothing to compare with.
    const configured = withPVC({ size: "60G", storageClassName: "ceph-rbd" });
    (configured.metadata as JsonObject).generation = 5;
    assert.deepEqual(judge({ object: configured, oldObject: bare, context: [dvcrPVC()] }).denials, []);
  });
});
