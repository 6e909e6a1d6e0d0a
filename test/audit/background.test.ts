import assert from "node:assert/strict";
import { test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Registry } from "prom-client";
import { pino } from "pino";
import { BackgroundAudit, type BackgroundAuditOptions } from "../../src/audit/background.js";
import type { PolicyReport } from "../../src/audit/policy-report.js";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { bindParameters, type PolicySet } from "../../src/engine/index.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import type { Clock } from "../../src/cluster/live/lease-election.js";

/** A clock whose sleeps return at once, advancing it: the loop runs as fast as the test lets it. */
class SteppingClock implements Clock {
  now = (): number => this.t;
  t = Date.UTC(2026, 11, 3, 12, 0, 0);
  async sleep(ms: number): Promise<void> {
    this.t += ms;
    await new Promise((r) => setImmediate(r));
  }
}

/** The class both tests size their VMs against: 1-4 cores. */
const COMPUTE_CLASS = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineClass", metadata: { name: "compute" }, spec: { cpu: { type: "Host" }, sizingPolicies: [{ cores: { min: 1, max: 4 }, memory: { min: "1Gi", max: "32Gi" } }] } };

/** A background audit of `store` under `set`, always ready and leading, every report batch handed to `sync`. */
function auditOf(set: PolicySet, store: ObjectStore, sync: BackgroundAuditOptions["reports"]["sync"], more: Partial<BackgroundAuditOptions> = {}): BackgroundAudit {
  return new BackgroundAudit({
    serving: () => ({ set, params: bindParameters(set, {}), context: store }),
    ready: () => true,
    leading: () => true,
    intervalMs: 600_000,
    evalTimeoutMs: 2000,
    reports: { sync, forget: () => undefined },
    registry: new Registry(),
    logger: pino({ level: "silent" }),
    ...more,
  });
}

test("the background audit reports the VM that no longer fits, and a failed report write is retried within 30 s, not a whole interval later", async () => {
  const set = loadPolicyDir();
  const store = new ObjectStore(set.indexes);
  store.upsert(structuredClone(COMPUTE_CLASS));
  store.upsert({
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: "large", namespace: "vms", generation: 1 },
    spec: { virtualMachineClassName: "compute", cpu: { cores: 8, coreFraction: "100%" }, memory: { size: "16Gi" }, blockDeviceRefs: [{ kind: "VirtualDisk", name: "large-root" }], runPolicy: "AlwaysOnUnlessStoppedManually", osType: "Generic", bootloader: "BIOS" },
  });
  const clock = new SteppingClock();
  const syncs: { at: number; reports: readonly PolicyReport[] }[] = [];
  const registry = new Registry();
  const sync = async (reports: readonly PolicyReport[]) => {
    syncs.push({ at: clock.t, reports });
    if (syncs.length === 1) throw new Error("429 storage is (re)initializing");
    return { created: reports.length, updated: 0, deleted: 0 };
  };
  const audit = auditOf(set, store, sync, { registry, clock });
  audit.start();
  while (syncs.length < 2) await new Promise((r) => setImmediate(r));
  await audit.stop();
  const [first, second] = syncs as [(typeof syncs)[0], (typeof syncs)[0]];
  assert.ok(second.at - first.at <= 31_000, `retried ${(second.at - first.at) / 1000} s after the failure`);
  assert.deepEqual(
    second.reports.map((r) => [r.kind, r.metadata.namespace, r.results.map((x) => `${x.policy} ${x.result} ${x.resources[0]?.name}`)]),
    [["PolicyReport", "vms", ["vm-class-sizing fail large"]]],
  );
  assert.match(await registry.metrics(), /virtguard_policy_violations\{policy="vm-class-sizing",namespace="vms"\} 1/);
});

test("an audit keeps nothing of the objects it judged: once the caches drop them, they can be collected", async () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const set = loadPolicyDir();
  const store = new ObjectStore(set.indexes);
  const vmKind = "virtualization.deckhouse.io/VirtualMachine";
  /** 200 VMs, half of them too large for their class; only WeakRefs leave this function. */
  const fill = (): WeakRef<object>[] => {
    store.upsert(structuredClone(COMPUTE_CLASS));
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 200; i++) {
      const cores = i % 2 === 0 ? 2 : 8;
      const vm = {
        apiVersion: "virtualization.deckhouse.io/v1alpha2",
        kind: "VirtualMachine",
        metadata: { name: `vm-${i}`, namespace: `ns-${i % 5}`, generation: 1 },
        spec: { virtualMachineClassName: "compute", cpu: { cores, coreFraction: "100%" }, memory: { size: `${cores * 2}Gi` }, blockDeviceRefs: [{ kind: "VirtualDisk", name: `vm-${i}-root` }], runPolicy: "AlwaysOnUnlessStoppedManually", osType: "Generic", bootloader: "BIOS" },
      };
      store.upsert(vm);
      refs.push(new WeakRef(vm));
    }
    return refs;
  };
  const refs = fill();
  const synced: (readonly PolicyReport[])[] = [];
  const audit = auditOf(set, store, async (reports) => {
    synced.push(reports);
    return { created: reports.length, updated: 0, deleted: 0 };
  });
  const run = await audit.runOnce();
  assert.equal(run.objects, 201, "the 200 VMs and their class");
  assert.equal(synced[0]?.reduce((n, r) => n + r.results.length, 0), 100);
  // The cluster deletes every VM: the caches let go of them; the audit, its reports and gauges must too.
  store.replaceAll(vmKind, []);
  await new Promise((r) => setImmediate(r));
  gc();
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 200 judged VMs are still reachable after the audit`);
  // The audit stays reachable until here (its next run): what it held was counted above, not collected with it.
  const next = await audit.runOnce();
  assert.equal(next.objects, 1, "only the class is left");
  assert.equal(synced[1]?.reduce((n, r) => n + r.results.length, 0), 0, "the deleted VMs are no longer reported");
  await audit.stop();
});
