// The live watcher's decisions, phase by phase, with no network: KindSync is driven by the events an
// API server would cause and its commands are checked. The same class runs against a real
// kube-apiserver in test/e2e/live-context.test.ts.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { KindSync, type KindCommand, type KindEvent, type KindSink, type KindSyncOptions } from "../../src/cluster/live/kind-sync.js";
import type { JsonObject, TargetSpec } from "../../src/engine/index.js";

const CLASS: TargetSpec = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineClass", resource: "virtualmachineclasses" };
const KIND = "virtualization.deckhouse.io/VirtualMachineClass";
const CLUSTER_CONFIGURATION: TargetSpec = {
  apiVersion: "deckhouse.io/v1",
  kind: "ClusterConfiguration",
  resource: "clusterconfigurations",
  fromSecret: { namespace: "kube-system", name: "d8-cluster-configuration", key: "cluster-configuration.yaml" },
};

function vmClass(name: string, resourceVersion: string, cores = 4): JsonObject {
  return { apiVersion: CLASS.apiVersion, kind: CLASS.kind, metadata: { name, resourceVersion }, spec: { cores } };
}

function secret(text: string, resourceVersion: string): JsonObject {
  return { apiVersion: "v1", kind: "Secret", metadata: { name: "d8-cluster-configuration", namespace: "kube-system", resourceVersion }, data: { "cluster-configuration.yaml": Buffer.from(text).toString("base64") } };
}

/** A KindSync on a real ObjectStore, a hand-moved clock, a fixed jitter and captured logs. */
function harness(target: TargetSpec = CLASS, opts: KindSyncOptions = {}) {
  let now = 1_000_000;
  const store = new ObjectStore();
  const sink: KindSink = {
    replaceAll: (kind, objects) => store.replaceAll(kind, objects),
    upsert: (kind, object) => store.upsert(object, kind),
    delete: (kind, object) => store.delete(object, kind),
    get: (kind, name, namespace) => store.get(kind, name, namespace),
  };
  const logs: { level: string; message: string }[] = [];
  const log = (level: string) => (_fields: object, message: string) => logs.push({ level, message });
  const phases: string[] = [];
  const sync = new KindSync(target === CLASS ? KIND : "deckhouse.io/ClusterConfiguration", target, sink, { info: log("info"), warn: log("warn"), error: log("error") }, {
    now: () => now,
    random: () => 1,
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    watchTimeoutSeconds: 300,
    onPhase: (p) => phases.push(p),
    ...opts,
  });
  return {
    sync,
    store,
    logs,
    phases,
    kind: sync.kind,
    advance(ms: number) {
      now += ms;
    },
    send: (event: KindEvent): KindCommand[] => sync.handle(event),
    /** start, list these objects at this resourceVersion, open the watch: the attempt watching. */
    watching(items: JsonObject[], resourceVersion: string): number {
      const [list] = sync.handle({ type: "start" });
      assert.equal(list?.type, "list");
      const attempt = (list as { attempt: number }).attempt;
      sync.handle({ type: "listed", attempt, items, resourceVersion, ms: 12 });
      sync.handle({ type: "watchOpened", attempt });
      return attempt;
    },
  };
}

describe("KindSync: list", () => {
  test("the first list is served from the watch cache (resourceVersion=0)", () => {
    const h = harness();
    assert.deepEqual(h.send({ type: "start" }), [{ type: "list", attempt: 1, resourceVersion: "0" }]);
    assert.equal(h.sync.phase, "starting");
    assert.equal(h.sync.synced, false);
  });

  test("a completed list fills the store, makes the kind ready and opens a watch from its resourceVersion", () => {
    const h = harness();
    h.send({ type: "start" });
    const commands = h.send({ type: "listed", attempt: 1, items: [vmClass("a", "10"), vmClass("b", "11")], resourceVersion: "12", ms: 40 });
    assert.deepEqual(commands, [{ type: "watch", attempt: 1, resourceVersion: "12", timeoutSeconds: 450 }]);
    assert.equal(h.sync.phase, "watching");
    assert.equal(h.sync.synced, true);
    assert.equal(h.sync.lists, 1);
    assert.deepEqual(h.sync.lastList, { ms: 40, objects: 2 });
    assert.deepEqual(h.store.list(h.kind).map((o) => (o.metadata as { name: string }).name).sort(), ["a", "b"]);
    assert.deepEqual(h.phases, ["watching"]);
    assert.match(h.logs[0]?.message ?? "", /listed 2 objects in 40 ms/);
  });

  test("a re-list replaces the kind whole: objects gone from the API server leave the store", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10"), vmClass("b", "11")], "12");
    const [, retry] = h.send({ type: "watchClosed", attempt, status: 500, message: "boom" });
    const [, list] = h.send({ type: "timer", attempt: (retry as { attempt: number }).attempt });
    h.send({ type: "listed", attempt: (list as { attempt: number }).attempt, items: [vmClass("b", "20")], resourceVersion: "21", ms: 5 });
    assert.deepEqual(h.store.list(h.kind).map((o) => (o.metadata as { name: string }).name), ["b"]);
  });
});

describe("KindSync: watch", () => {
  test("events update the store and the resourceVersion a resumed watch starts from", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10")], "10");
    h.advance(1000);
    h.send({ type: "watchEvent", attempt, event: "ADDED", object: vmClass("b", "11") });
    h.send({ type: "watchEvent", attempt, event: "MODIFIED", object: vmClass("a", "12", 8) });
    h.send({ type: "watchEvent", attempt, event: "DELETED", object: vmClass("b", "13") });
    h.send({ type: "watchEvent", attempt, event: "BOOKMARK", object: { metadata: { resourceVersion: "17" } } });
    assert.deepEqual(h.store.list(h.kind).map((o) => [(o.metadata as { name: string }).name, (o.spec as { cores: number }).cores]), [["a", 8]]);
    assert.equal(h.sync.lastSyncAt, 1_001_000);
    // The server ended the watch (its timeoutSeconds): resume from the bookmark, no re-list.
    assert.deepEqual(h.send({ type: "watchClosed", attempt }), [{ type: "watch", attempt, resourceVersion: "17", timeoutSeconds: 450 }]);
    assert.equal(h.sync.phase, "watching");
    assert.equal(h.sync.errors, 0);
  });

  test("objects of built-in kinds get the target's apiVersion and kind; managedFields are dropped", () => {
    const h = harness();
    const attempt = h.watching([], "1");
    h.send({ type: "watchEvent", attempt, event: "ADDED", object: { metadata: { name: "c", resourceVersion: "2", managedFields: [{ manager: "kubectl" }] } } });
    const stored = h.store.get(h.kind, "c", "");
    assert.equal(stored?.apiVersion, CLASS.apiVersion);
    assert.equal(stored?.kind, CLASS.kind);
    assert.equal((stored?.metadata as { managedFields?: unknown }).managedFields, undefined);
  });

  test("events of an attempt that was replaced, and of a stopped kind, change nothing", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10")], "10");
    h.send({ type: "watchClosed", attempt, status: 410, message: "too old" });
    h.send({ type: "watchEvent", attempt, event: "ADDED", object: vmClass("late", "11") });
    assert.equal(h.store.get(h.kind, "late", ""), undefined);
    assert.deepEqual(h.send({ type: "stop" }), [{ type: "cancel", attempt: 2 }]);
    assert.deepEqual(h.send({ type: "listed", attempt: 2, items: [vmClass("z", "30")], resourceVersion: "30", ms: 1 }), []);
    assert.equal(h.store.get(h.kind, "z", ""), undefined);
    assert.equal(h.sync.phase, "stopped");
  });
});

describe("KindSync: expiry (410)", () => {
  test("a watch that expires re-lists at once, not older than what the cache had seen", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10")], "10");
    h.send({ type: "watchEvent", attempt, event: "MODIFIED", object: vmClass("a", "15") });
    const commands = h.send({ type: "watchClosed", attempt, status: 410, message: "too old resource version" });
    assert.deepEqual(commands, [
      { type: "cancel", attempt },
      { type: "list", attempt: attempt + 1, resourceVersion: "15", resourceVersionMatch: "NotOlderThan" },
    ]);
    assert.equal(h.sync.errors, 0, "an expiry is routine, not an error");
    assert.equal(h.sync.phase, "watching", "the cache is still current until the list says otherwise");
  });

  test("a list the API server cannot serve at that resourceVersion (410, 504) is read from etcd next time", () => {
    for (const status of [410, 504]) {
      const h = harness();
      const attempt = h.watching([vmClass("a", "10")], "10");
      const [, list] = h.send({ type: "watchClosed", attempt, status: 410, message: "expired" });
      const relist = (list as { attempt: number }).attempt;
      const [, timer] = h.send({ type: "listFailed", attempt: relist, status, message: "cannot serve" });
      assert.equal(timer?.type, "timer");
      const [, consistent] = h.send({ type: "timer", attempt: (timer as { attempt: number }).attempt });
      assert.deepEqual(consistent, { type: "list", attempt: relist + 2 }, `after ${status}: no resourceVersion`);
      h.send({ type: "listed", attempt: relist + 2, items: [], resourceVersion: "40", ms: 1 });
      const [, next] = h.send({ type: "watchClosed", attempt: relist + 2, status: 500, message: "x" });
      const [, again] = h.send({ type: "timer", attempt: (next as { attempt: number }).attempt });
      assert.deepEqual(again, { type: "list", attempt: relist + 4, resourceVersion: "40", resourceVersionMatch: "NotOlderThan" });
    }
  });
});

describe("KindSync: failures and backoff", () => {
  test("a first list that fails keeps the kind starting, retries with growing backoff, and names the problem", () => {
    const h = harness();
    h.send({ type: "start" });
    assert.deepEqual(h.send({ type: "listFailed", attempt: 1, status: 0, message: "connect ECONNREFUSED 127.0.0.1:6443" }), [
      { type: "cancel", attempt: 1 },
      { type: "timer", attempt: 2, delayMs: 100 },
    ]);
    assert.equal(h.sync.phase, "starting");
    assert.equal(h.sync.synced, false);
    assert.match(h.sync.lastError ?? "", /ECONNREFUSED/);
    assert.deepEqual(h.send({ type: "timer", attempt: 2 }), [{ type: "cancel", attempt: 2 }, { type: "list", attempt: 3, resourceVersion: "0" }]);
    const [, second] = h.send({ type: "listFailed", attempt: 3, status: 0, message: "connect ECONNREFUSED 127.0.0.1:6443" });
    assert.deepEqual(second, { type: "timer", attempt: 4, delayMs: 200 });
    assert.equal(h.logs.filter((l) => l.level === "warn").length, 1, "the same failure is logged once a minute, not on every retry");
  });

  test("a failed watch makes the kind retrying and stale from that moment; the next list makes it current again", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10")], "10");
    h.advance(5000);
    const [, timer] = h.send({ type: "watchClosed", attempt, status: 500, message: "internal error" });
    assert.equal(h.sync.phase, "retrying");
    assert.equal(h.sync.errors, 1);
    assert.equal(h.store.list(h.kind).length, 1, "the last known objects stay until a re-list");
    h.advance(2500);
    assert.equal(h.sync.staleMs(), 2500);
    const [, list] = h.send({ type: "timer", attempt: (timer as { attempt: number }).attempt });
    h.send({ type: "listed", attempt: (list as { attempt: number }).attempt, items: [], resourceVersion: "30", ms: 3 });
    assert.equal(h.sync.phase, "watching");
    assert.equal(h.sync.staleMs(), 0);
    assert.deepEqual(h.phases, ["watching", "retrying", "watching"]);
    assert.ok(h.logs.some((l) => /listed and watching again/.test(l.message)));
  });

  test("401 and 403 say what is wrong with the credentials or RBAC", () => {
    const h = harness();
    h.send({ type: "start" });
    h.send({ type: "listFailed", attempt: 1, status: 403, message: "forbidden" });
    assert.match(h.sync.lastError ?? "", /403: RBAC must allow get, list and watch/);
    h.send({ type: "timer", attempt: 2 });
    h.send({ type: "listFailed", attempt: 3, status: 401, message: "Unauthorized" });
    assert.match(h.sync.lastError ?? "", /401: the credentials were rejected/);
  });

  test("404: the kind is not served (no CRD); no objects, ready, re-checked with backoff", () => {
    const h = harness();
    const attempt = h.watching([vmClass("a", "10")], "10");
    const commands = h.send({ type: "watchClosed", attempt, status: 404, message: "not found" });
    assert.deepEqual(commands.map((c) => c.type), ["cancel", "timer"]);
    assert.equal(h.sync.phase, "missing");
    assert.equal(h.sync.synced, true);
    assert.equal(h.sync.staleMs(), 0);
    assert.equal(h.store.list(h.kind).length, 0);
    assert.match(h.logs.find((l) => l.level === "warn")?.message ?? "", /is its CustomResourceDefinition installed\?/);
  });

  test("a kind proved missing stays ready when a re-check cannot reach the API server: stale, not unready", () => {
    const h = harness();
    h.send({ type: "start" });
    h.send({ type: "listFailed", attempt: 1, status: 404, message: "not found" });
    assert.equal(h.sync.phase, "missing");
    h.advance(500);
    assert.deepEqual(h.send({ type: "timer", attempt: 2 }), [{ type: "cancel", attempt: 2 }, { type: "list", attempt: 3, resourceVersion: "0" }]);
    h.send({ type: "listFailed", attempt: 3, status: 0, message: "connect ECONNREFUSED" });
    assert.equal(h.sync.phase, "retrying");
    assert.equal(h.sync.synced, true, "readiness is about the first answer only");
    h.advance(300);
    assert.equal(h.sync.staleMs(), 300);
    assert.equal(h.store.list(h.kind).length, 0);
  });

  test("stop cancels the attempt; timers and results that arrive afterwards do nothing", () => {
    const h = harness();
    h.send({ type: "start" });
    h.send({ type: "listFailed", attempt: 1, status: 0, message: "down" });
    assert.deepEqual(h.send({ type: "stop" }), [{ type: "cancel", attempt: 2 }]);
    assert.deepEqual(h.send({ type: "timer", attempt: 2 }), []);
    assert.deepEqual(h.send({ type: "tick" }), []);
  });
});

describe("KindSync: 403 on a Secret's watch falls back to polling", () => {
  test("get allowed, watch forbidden: the Secret is re-read every secretPollMs", () => {
    const h = harness(CLUSTER_CONFIGURATION, { secretPollMs: 30_000 });
    h.send({ type: "start" });
    const watch = h.send({ type: "listed", attempt: 1, items: [secret("podSubnetCIDR: 10.111.0.0/16\n", "5")], resourceVersion: "5", ms: 2 });
    assert.deepEqual(watch, [{ type: "watch", attempt: 1, resourceVersion: "5", timeoutSeconds: 450 }]);
    assert.equal(h.store.list("deckhouse.io/ClusterConfiguration")[0]?.podSubnetCIDR, "10.111.0.0/16");
    // The watch is refused: read again at once, then on a timer, never watching.
    assert.deepEqual(h.send({ type: "watchClosed", attempt: 1, status: 403, message: "Forbidden" }), [
      { type: "cancel", attempt: 1 },
      { type: "list", attempt: 2, resourceVersion: "5", resourceVersionMatch: "NotOlderThan" },
    ]);
    assert.equal(h.sync.pollMs, 30_000);
    assert.equal(h.sync.lastError, undefined);
    assert.match(h.logs.find((l) => l.level === "info")?.message ?? "", /RBAC allows get but not watch on the Secret; re-reading it every 30 s/);
    assert.deepEqual(h.send({ type: "listed", attempt: 2, items: [secret("podSubnetCIDR: 10.112.0.0/16\n", "6")], resourceVersion: "6", ms: 2 }), [
      { type: "timer", attempt: 2, delayMs: 30_000 },
    ]);
    assert.equal(h.store.list("deckhouse.io/ClusterConfiguration")[0]?.podSubnetCIDR, "10.112.0.0/16");
    assert.equal(h.sync.phase, "watching");
    const next = h.send({ type: "timer", attempt: 2 });
    assert.deepEqual(next.map((c) => c.type), ["cancel", "list"]);
  });

  test("a 403 on the read itself is an RBAC error, not a reason to poll", () => {
    const h = harness(CLUSTER_CONFIGURATION);
    h.send({ type: "start" });
    h.send({ type: "listFailed", attempt: 1, status: 403, message: "Forbidden" });
    assert.equal(h.sync.pollMs, undefined);
    assert.match(h.sync.lastError ?? "", /RBAC must allow get and watch on this Secret/);
  });

  test("the Secret's document stands for the object; overrides apply; a deleted Secret leaves only the overrides", () => {
    const h = harness(CLUSTER_CONFIGURATION, { overrides: { serviceSubnetCIDR: "10.2.0.0/16" } });
    const attempt = h.watching([secret("podSubnetCIDR: 10.111.0.0/16\n", "5")], "5");
    const kind = "deckhouse.io/ClusterConfiguration";
    assert.deepEqual(h.store.list(kind)[0], { apiVersion: "deckhouse.io/v1", kind: "ClusterConfiguration", podSubnetCIDR: "10.111.0.0/16", serviceSubnetCIDR: "10.2.0.0/16" });
    h.send({ type: "watchEvent", attempt, event: "DELETED", object: secret("", "6") });
    assert.deepEqual(h.store.list(kind), [{ apiVersion: "deckhouse.io/v1", kind: "ClusterConfiguration", serviceSubnetCIDR: "10.2.0.0/16" }]);
    h.send({ type: "watchEvent", attempt, event: "ADDED", object: secret("podSubnetCIDR: [broken", "7") });
    assert.match(h.logs.find((l) => l.level === "error")?.message ?? "", /not valid YAML/);
  });
});

describe("KindSync: reconnect storms and the watchdog", () => {
  test("a server that closes every watch at once: resumed nine times, then backed off as a failure", () => {
    const h = harness();
    const attempt = h.watching([], "1");
    for (let i = 0; i < 9; i++) {
      h.advance(500);
      const [resume] = h.send({ type: "watchClosed", attempt });
      assert.equal(resume?.type, "watch", `close ${i + 1} resumes`);
      h.send({ type: "watchOpened", attempt });
    }
    h.advance(500);
    const commands = h.send({ type: "watchClosed", attempt });
    assert.deepEqual(commands.map((c) => c.type), ["cancel", "timer"]);
    assert.match(h.sync.lastError ?? "", /closed 10 watches within 10 s/);
    assert.equal(h.sync.phase, "retrying");
  });

  test("watches that end at their timeout, minutes apart, resume forever", () => {
    const h = harness();
    const attempt = h.watching([], "1");
    for (let i = 0; i < 30; i++) {
      h.advance(5 * 60_000);
      assert.equal(h.send({ type: "watchClosed", attempt })[0]?.type, "watch");
      h.send({ type: "watchOpened", attempt });
    }
    assert.equal(h.sync.errors, 0);
  });

  test("a watch silent past 1.5 × its timeout + 30 s is restarted by the watchdog", () => {
    const h = harness(CLASS, { watchTimeoutSeconds: 60 });
    h.watching([], "1");
    h.advance(60_000 * 1.5 + 30_000);
    assert.deepEqual(h.send({ type: "tick" }), [], "at the limit: still trusted");
    h.advance(1000);
    const commands = h.send({ type: "tick" });
    assert.deepEqual(commands.map((c) => c.type), ["cancel", "timer"]);
    assert.match(h.sync.lastError ?? "", /no watch activity for 121 s/);
  });
});
