import assert from "node:assert/strict";
import { test } from "node:test";
import { policyReports, reportContent } from "../../src/audit/policy-report.js";
import type { ObjectResult, ReportFinding } from "../../src/check/report.js";

function result(kind: string, name: string, namespace: string | undefined, policies: string[], findings: Omit<ReportFinding, "file" | "line">[]): ObjectResult {
  const r: ObjectResult = {
    file: "cluster",
    line: 0,
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind,
    name,
    operation: "UPDATE",
    status: findings.some((f) => f.action === "Deny") ? "denied" : "allowed",
    schema: "unknown",
    policies,
    findings: findings.map((f) => ({ ...f, file: "cluster", line: 0 })),
  };
  if (namespace) r.namespace = namespace;
  return r;
}

const OBJECTS = [
  result("VirtualMachine", "b", "ns1", ["p1", "p2", "p3"], [
    { action: "Deny", policy: "p2", message: "too big", reason: "Invalid" },
    { action: "Warn", policy: "p1", message: "legacy" },
  ]),
  result("VirtualMachine", "a", "ns1", ["p1", "p2", "p3"], [{ action: "Deny", policy: "p3", message: "policy could not be evaluated: x", reason: "InternalError" }]),
  result("VirtualMachine", "c", "ns2", ["p1"], []),
  result("VirtualMachineClass", "gold", undefined, ["p4"], [{ action: "Audit", policy: "p4", message: "noted" }]),
];

test("one PolicyReport per namespace and a ClusterPolicyReport; passes counted, findings listed in a stable order", () => {
  const reports = policyReports(OBJECTS);
  assert.deepEqual(
    reports.map((r) => [r.kind, r.metadata.namespace ?? "", r.summary, r.results.map((x) => `${x.resources[0]?.name}:${x.policy}:${x.result}:${x.severity}`)]),
    [
      ["ClusterPolicyReport", "", { pass: 0, fail: 0, warn: 1, error: 0, skip: 0 }, ["gold:p4:warn:low"]],
      ["PolicyReport", "ns1", { pass: 3, fail: 1, warn: 1, error: 1, skip: 0 }, ["a:p3:error:high", "b:p1:warn:medium", "b:p2:fail:high"]],
      ["PolicyReport", "ns2", { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 }, []],
    ],
  );
  assert.deepEqual(reports[1]?.results[2]?.properties, { action: "Deny", reason: "Invalid" });
  assert.deepEqual(reports[1]?.metadata.labels, { "app.kubernetes.io/managed-by": "virtguard" });
});

test("reportContent ignores timestamps and key order, so an unchanged audit is not rewritten", () => {
  const [, first] = policyReports(OBJECTS, new Date(1_000_000));
  const [, later] = policyReports([...OBJECTS].reverse(), new Date(2_000_000));
  assert.ok(first && later);
  assert.notDeepEqual(first.results[0]?.timestamp, later.results[0]?.timestamp);
  assert.equal(reportContent(first), reportContent(later));
  const fromServer = JSON.parse(JSON.stringify(first, (_k, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
  assert.equal(reportContent(fromServer), reportContent(first));
  const changed = policyReports(OBJECTS.slice(1))[1];
  assert.ok(changed);
  assert.notEqual(reportContent(changed), reportContent(first));
});
