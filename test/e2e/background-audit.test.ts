// End to end: two `virtguard serve --audit-interval 1s` replicas against the real API server. One
// of them takes the audit Lease and writes a PolicyReport naming the VM that no longer fits its
// class; the other never writes; a steady cluster is not rewritten; when the leader stops, the
// other takes over and a fixed VM leaves the report.

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { e2eBinaries, startControlPlane, type ControlPlane, type KubectlResult } from "./control-plane.js";
import { CLUSTER_CONFIGURATION_SECRET, computeClass, policyReportCrds, vm } from "./audit-fixtures.js";
import { installVirtguardRbac, makeWebhookCerts, metricSum, startVirtguard, type Certs, type VirtguardProcess } from "./virtguard-process.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Report {
  metadata: { resourceVersion: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  summary: Record<string, number>;
  results: { policy: string; result: string; message: string; resources: { name: string; namespace?: string }[] }[];
}

const bins = await e2eBinaries();

if (bins) {
  describe("e2e: background audit in serve, two replicas, one Lease", () => {
    let cp: ControlPlane;
    let dir: string;
    let kubeconfig: string;
    let certs: Certs;
    const replicas: VirtguardProcess[] = [];

    const must = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await cp.kubectl(args, { input });
      assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    const report = async (): Promise<Report | undefined> => {
      const r = await cp.kubectl(["get", "policyreport", "virtguard-audit", "-n", "vms", "-o", "json"]);
      return r.code === 0 ? (JSON.parse(r.stdout) as Report) : undefined;
    };
    const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await probe();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${replicas.map((r, i) => `--- replica ${i}:\n${r.output().slice(-3000)}`).join("\n")}`);
        await sleep(300);
      }
    };
    const leaders = (): number[] => replicas.flatMap((r, i) => (/"msg":"leading: this replica writes the audit reports"/.test(r.output()) ? [i] : []));
    const auditsDone = (r: VirtguardProcess): number => (r.output().match(/"msg":"background audit done"/g) ?? []).length;
    const holder = async (): Promise<string> => {
      const r = await cp.kubectl(["get", "lease", "virtguard-audit", "-n", "virtguard", "-o", "jsonpath={.spec.holderIdentity}"]);
      return r.code === 0 ? r.stdout.trim() : "";
    };

    before(async () => {
      cp = await startControlPlane({ binaries: bins, namespaces: ["vms"] });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "virtguard-e2e-background-audit-"));
      certs = await makeWebhookCerts(path.join(dir, "certs"));
      kubeconfig = await installVirtguardRbac(cp, dir);
      await must(["apply", "-f", "-"], CLUSTER_CONFIGURATION_SECRET);
      await must(["apply", "-f", "-"], policyReportCrds());
      await must(["wait", "--for=condition=Established", "crd/policyreports.wgpolicyk8s.io", "crd/clusterpolicyreports.wgpolicyk8s.io", "--timeout=60s"]);
      // The class is already 1-4 cores (no webhook here: this test is about the audit).
      await must(["apply", "-f", "-"], computeClass(4));
      for (const [name, cores] of [["small", 2], ["large", 8]] as const) await must(["apply", "-f", "-"], vm(name, cores));
      const args = ["--audit-interval", "1s", "--audit-lease", "virtguard/virtguard-audit"];
      // Started together, so that both race for the Lease.
      replicas.push(...(await Promise.all([0, 1].map(() => startVirtguard({ certs, kubeconfig, args })))));
    });

    after(async () => {
      await Promise.all(replicas.map((r) => r.stop()));
      await cp?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("the replica holding the Lease writes a PolicyReport naming the VM that no longer fits; the other does not audit", async () => {
      const pr = await until("the PolicyReport in vms", report);
      assert.deepEqual(
        pr.results.map((x) => `${x.policy} ${x.result} ${x.resources.map((res) => `${res.namespace}/${res.name}`).join(",")}`),
        ["vm-class-sizing fail vms/large"],
      );
      assert.match(pr.results[0]?.message ?? "", /spec\.cpu\.cores is 8; VirtualMachineClass "compute" has no sizing policy for that many cores \(allowed core ranges: 1-4\)/);
      assert.equal(pr.summary.fail, 1);
      assert.ok((pr.summary.pass ?? 0) > 0, "the policies the small VM passes are counted");
      assert.equal(pr.metadata.labels?.["app.kubernetes.io/managed-by"], "virtguard");
      assert.match(pr.metadata.annotations?.["virtguard.io/results-digest"] ?? "", /^[0-9a-f]{32}$/);

      const leading = leaders();
      assert.equal(leading.length, 1, `exactly one replica leads: ${JSON.stringify(leading)}`);
      const leader = replicas[leading[0] as number] as VirtguardProcess;
      const follower = replicas[1 - (leading[0] as number)] as VirtguardProcess;
      assert.match(await holder(), /\S+_[0-9a-f]{8}$/);
      assert.equal(metricSum(await leader.metrics(), "virtguard_policy_violations", { policy: "vm-class-sizing", namespace: "vms" }), 1);
      assert.equal(metricSum(await follower.metrics(), "virtguard_policy_violations"), 0);
      assert.equal(auditsDone(follower), 0, "the follower never audits");
      // Both keep serving: each one's readiness is its own.
      assert.equal(metricSum(await follower.metrics(), "virtguard_ready"), 1);
    });

    test("a steady cluster is audited every interval but its report is not rewritten", async () => {
      const before = await until("the report", report);
      const leader = replicas[leaders()[0] as number] as VirtguardProcess;
      const audits = auditsDone(leader);
      await until("three more audits", async () => (auditsDone(leader) >= audits + 3 ? true : undefined), 30_000);
      const after = await until("the report", report);
      assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
    });

    test("when the leader stops, the other replica takes the Lease over and keeps the report current", async () => {
      const first = leaders()[0] as number;
      const previousHolder = await holder();
      await replicas[first]?.stop();
      const next = replicas[1 - first] as VirtguardProcess;
      await until("the other replica to lead", async () => (/"msg":"leading: this replica writes the audit reports"/.test(next.output()) ? true : undefined), 30_000);
      assert.notEqual(await holder(), previousHolder);
      // The 8-core VM resized: the new leader empties the namespace's report, i.e. deletes it.
      await must(["patch", "virtualmachine", "large", "-n", "vms", "--type", "merge", "-p", JSON.stringify({ spec: { cpu: { cores: 4 }, memory: { size: "8Gi" } } })]);
      await until("the report to be deleted", async () => ((await report()) === undefined ? true : undefined), 30_000);
      assert.equal(metricSum(await next.metrics(), "virtguard_policy_violations"), 0);
    });
  });
}
