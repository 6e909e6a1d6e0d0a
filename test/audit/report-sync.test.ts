import assert from "node:assert/strict";
import { test } from "node:test";
import type { ObjectResult } from "../../src/check/report.js";
import { policyReports } from "../../src/audit/policy-report.js";
import { planReportWrites, reportDigest, type StoredReport } from "../../src/audit/report-sync.js";

/** A VM's result under a class of 1-4 cores: a Deny finding from 5 cores on. */
function vm(namespace: string, name: string, cores: number): ObjectResult {
  const findings =
    cores <= 4
      ? []
      : [{ action: "Deny" as const, policy: "vm-class-sizing", message: `spec.cpu.cores: ${cores} cores is outside every core range (1-4)`, file: "cluster", line: 0 }];
  return { file: "cluster", line: 0, apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachine", namespace, name, operation: "UPDATE", status: findings.length > 0 ? "denied" : "allowed", schema: "unknown", policies: ["vm-class-sizing"], findings };
}

const CLASS: ObjectResult = {
  file: "cluster",
  line: 0,
  apiVersion: "virtualization.deckhouse.io/v1alpha3",
  kind: "VirtualMachineClass",
  name: "compute",
  operation: "UPDATE",
  status: "warned",
  schema: "unknown",
  policies: ["vmclass-change-impact"],
  findings: [{ action: "Warn", policy: "vmclass-change-impact", message: "1 VM would no longer fit", file: "cluster", line: 0 }],
};

/** What the cluster holds after the writes planned for `reports` (each written report's digest). */
function stored(reports: ReturnType<typeof policyReports>): Map<string, StoredReport> {
  return new Map(reports.filter((r) => r.results.length > 0).map((r, i) => [r.metadata.namespace ?? "", { namespace: r.metadata.namespace ?? "", digest: reportDigest(r), resourceVersion: String(i + 1) }]));
}

test("the first audit creates a report per namespace with findings and a ClusterPolicyReport; a namespace where all passes gets none", () => {
  const reports = policyReports([vm("a", "big", 8), vm("a", "ok", 2), vm("b", "ok", 2), CLASS], new Date("2026-12-03T12:00:00Z"));
  const writes = planReportWrites(reports, new Map());
  assert.deepEqual(
    writes.create.map((r) => [r.kind, r.metadata.namespace ?? "", r.results.map((x) => x.resources[0]?.name)]),
    [
      ["ClusterPolicyReport", "", ["compute"]],
      ["PolicyReport", "a", ["big"]],
    ],
  );
  assert.deepEqual([writes.update, writes.remove], [[], []]);
});

test("a later audit with the same results writes nothing, whatever its clock says", () => {
  const objects = [vm("a", "big", 8), vm("a", "ok", 2), CLASS];
  const first = policyReports(objects, new Date("2026-12-03T12:00:00Z"));
  const later = policyReports(objects, new Date("2026-12-03T12:10:00Z"));
  assert.notDeepEqual(first[1]?.results[0]?.timestamp, later[1]?.results[0]?.timestamp);
  assert.deepEqual(planReportWrites(later, stored(first)), { create: [], update: [], remove: [] });
});

test("changed results update that namespace's report only, with the stored resourceVersion", () => {
  const first = policyReports([vm("a", "big", 8), vm("b", "huge", 16)], new Date("2026-12-03T12:00:00Z"));
  const next = policyReports([vm("a", "big", 8), vm("b", "huge", 12)], new Date("2026-12-03T12:10:00Z"));
  const writes = planReportWrites(next, stored(first));
  assert.deepEqual(
    writes.update.map((u) => [u.report.metadata.namespace, u.resourceVersion, u.report.results[0]?.message]),
    [["b", "2", "spec.cpu.cores: 12 cores is outside every core range (1-4)"]],
  );
  assert.deepEqual([writes.create, writes.remove], [[], []]);
});

test("a namespace whose objects all pass now, or that has no object left, loses its report", () => {
  const first = policyReports([vm("a", "big", 8), vm("b", "huge", 16), CLASS], new Date("2026-12-03T12:00:00Z"));
  // a's VM was resized, b's deleted, the class's VMs fixed.
  const next = policyReports([vm("a", "big", 4)], new Date("2026-12-03T12:10:00Z"));
  const writes = planReportWrites(next, stored(first));
  assert.deepEqual(writes.remove.map((r) => r.namespace).sort(), ["", "a", "b"]);
  assert.deepEqual([writes.create, writes.update], [[], []]);
});

test("a report without virtguard's digest (written by hand, or by an older version) is rewritten", () => {
  const reports = policyReports([vm("a", "big", 8)], new Date("2026-12-03T12:00:00Z"));
  const writes = planReportWrites(reports, new Map([["a", { namespace: "a", digest: undefined, resourceVersion: "5" }]]));
  assert.deepEqual(writes.update.map((u) => [u.report.metadata.namespace, u.resourceVersion]), [["a", "5"]]);
});
