import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { fixture, fixtureObjects } from "../support/fixtures.js";
import { judge, type Judgement } from "../support/judge.js";
import { nextGeneration, withSetting } from "../support/moduleconfig.js";

const POLICY = "[moduleconfig-live-migration]";

function mine(j: Judgement): string[] {
  return j.denials.filter((d) => d.startsWith(POLICY));
}
/** The full virtualization ModuleConfig: live migration over SystemNetwork migration-net; generation 7. */
function stored(): JsonObject {
  return fixture("moduleconfig/virtualization-full.yaml");
}
function withLiveMigration(liveMigration: JsonValue | undefined, from: JsonObject = stored()): JsonObject {
  return withSetting(from, "liveMigration", liveMigration);
}
function over(name: string): JsonValue {
  return { network: { type: "SystemNetwork", systemNetwork: { name } } };
}
/** migration-net (Ready=True) and storage-net (Ready=False). */
function networks(): JsonObject[] {
  return fixtureObjects("cluster/system-networks.yaml");
}
function update(liveMigration: JsonValue | undefined, context: JsonObject[] = networks()): Judgement {
  return judge({ object: withLiveMigration(liveMigration), oldObject: stored(), context });
}

describe("moduleconfig-live-migration", () => {
  test("a Ready SystemNetwork is allowed, on CREATE and UPDATE", () => {
    assert.deepEqual(judge({ object: stored(), context: networks(), params: { edition: "EE" } }).denials, []);
    assert.deepEqual(update(over("migration-net")).denials, []);
  });

  test("a SystemNetwork that does not exist is denied, naming it", () => {
    const j = update(over("missing-net"));
    assert.equal(j.response.allowed, false);
    assert.deepEqual(mine(j), [
      `${POLICY} spec.settings.liveMigration.network.systemNetwork.name is "missing-net", but no SystemNetwork of that name exists (is the sdn module enabled?). Create SystemNetwork missing-net first, or name an existing one`,
    ]);
    // Without the sdn module there are no SystemNetworks at all.
    assert.equal(mine(update(over("migration-net"), [])).length, 1);
  });

  test("a SystemNetwork that is not Ready is denied, with its condition", () => {
    assert.deepEqual(mine(update(over("storage-net"))), [
      `${POLICY} spec.settings.liveMigration.network.systemNetwork.name is "storage-net", but SystemNetwork storage-net is not Ready (Ready=False, reason NodeAttachmentsNotReady: 1 of 3 node interface attachments are not ready). Wait until it is Ready, or name another SystemNetwork`,
    ]);
  });

  test("a SystemNetwork without a Ready condition is not Ready", () => {
    const fresh: JsonObject = { apiVersion: "network.deckhouse.io/v1alpha1", kind: "SystemNetwork", metadata: { name: "fresh-net" }, spec: { type: "Access" } };
    assert.match(mine(update(over("fresh-net"), [fresh]))[0] as string, /SystemNetwork fresh-net is not Ready \(no Ready condition\)/);
    const other: JsonObject = { ...fresh, status: { conditions: [{ type: "Other", status: "True" }] } };
    assert.match(mine(update(over("fresh-net"), [other]))[0] as string, /not Ready \(no Ready condition\)/);
  });

  test("no live migration network (the pod network) is allowed", () => {
    assert.deepEqual(update(undefined, []).denials, []);
    assert.deepEqual(update({}, []).denials, []);
    assert.deepEqual(update({ network: {} }, []).denials, []);
  });

  test("the check follows the config state: an existing reference to a broken network is reported on any generation change", () => {
    const broken = withLiveMigration(over("storage-net"));
    assert.equal(mine(judge({ object: nextGeneration(broken), oldObject: broken, context: networks() })).length, 1);
  });

  test("a malformed name does not crash", () => {
    assert.deepEqual(update({ network: { type: "SystemNetwork", systemNetwork: { name: 42 } } }, []).denials, []);
  });

  test("other ModuleConfigs and unchanged generations are untouched", () => {
    const other = fixture("moduleconfig/other-module.yaml");
    const otherNew = withLiveMigration(over("missing-net"), other);
    assert.deepEqual(judge({ object: otherNew, oldObject: other, context: [] }).denials, []);
    const same = withLiveMigration(over("missing-net"));
    (same.metadata as JsonObject).generation = 7;
    assert.deepEqual(judge({ object: same, oldObject: stored(), context: [] }).denials, []);
  });
});
