// End to end: existing VirtualMachines, a class tightened under them (kubectl shows virtguard's
// change-impact warning), then `virtguard audit --cluster` names the VM that no longer fits and
// its PolicyReport is created in the cluster (from `audit -o policyreport | kubectl apply -f -`).

import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { e2eBinaries, showCommand as show, startControlPlane, type ControlPlane, type KubectlResult } from "./control-plane.js";
import { CLUSTER_CONFIGURATION_SECRET, computeClass, policyReportCrds, vm } from "./audit-fixtures.js";
import { installVirtguardRbac, makeWebhookCerts, metricSum, registerWebhook, startVirtguard, virtguardCli, type VirtguardProcess } from "./virtguard-process.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const bins = await e2eBinaries();

if (bins) {
  describe("e2e: a class tightened under running VMs, then virtguard audit --cluster", () => {
    let cp: ControlPlane;
    let dir: string;
    let kubeconfig: string;
    let server: VirtguardProcess | undefined;

    const kubectl = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await cp.kubectl(args, { input });
      show(`kubectl ${args.join(" ")}`, r);
      return r;
    };
    const must = async (args: string[], input?: string): Promise<KubectlResult> => {
      const r = await kubectl(args, input);
      assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r;
    };

    before(async () => {
      cp = await startControlPlane({ binaries: bins, namespaces: ["vms"] });
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "virtguard-e2e-audit-"));
      const certs = await makeWebhookCerts(path.join(dir, "certs"));
      kubeconfig = await installVirtguardRbac(cp, dir);
      await must(["apply", "-f", "-"], CLUSTER_CONFIGURATION_SECRET);
      await must(["apply", "-f", "-"], policyReportCrds());
      await must(["wait", "--for=condition=Established", "crd/policyreports.wgpolicyk8s.io", "crd/clusterpolicyreports.wgpolicyk8s.io", "--timeout=60s"]);
      await must(["apply", "-f", "-"], computeClass(8));
      for (const [name, cores] of [["small", 2], ["medium", 4], ["large", 8]] as const) await must(["apply", "-f", "-"], vm(name, cores));

      server = await startVirtguard({ certs, kubeconfig });
      await registerWebhook(cp, server.port, certs.ca);
      // The webhook configuration loads asynchronously, and the VMs must be in serve's cache.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const cached = metricSum(await server.metrics(), "virtguard_cluster_cache_objects", { kind: "VirtualMachine" });
        const probe = await cp.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: vm("probe", 300) });
        if (cached === 3 && probe.code !== 0 && /virtguard\.io" denied the request/.test(probe.stderr)) break;
        if (Date.now() > deadline) throw new Error(`webhook not active or VMs not cached (cached ${cached}): ${probe.stderr}\n${server.output().slice(-2000)}`);
        await sleep(300);
      }
    });

    after(async () => {
      if (server) await server.stop();
      await cp?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test("narrowing the class from 1-8 to 1-4 cores: kubectl applies it and shows the warning naming only the 8-core VM", async () => {
      const r = await must(["apply", "-f", "-"], computeClass(4));
      assert.match(
        r.stderr,
        /Warning: \[vmclass-change-impact\] spec\.sizingPolicies: 1 existing VirtualMachine of VirtualMachineClass "compute" would no longer fit: vms\/large \(8 cores, outside every core range \(1-4\)\)/,
      );
      assert.doesNotMatch(r.stderr, /vms\/(small|medium)/);
      assert.match(r.stdout, /virtualmachineclass\.virtualization\.deckhouse\.io\/compute configured/);
    });

    test("virtguard audit --cluster: exit 1, naming only the 8-core VM, with the reason", async () => {
      const r = await virtguardCli(["audit", "--cluster", "--kubeconfig", kubeconfig]);
      show("virtguard audit --cluster", r);
      assert.equal(r.code, 1, r.stderr);
      const findings = r.stdout.trimEnd().split("\n").slice(0, -1);
      assert.deepEqual(findings, [
        'VirtualMachine/vms/large  DENY  [vm-class-sizing] spec.cpu.cores is 8; VirtualMachineClass "compute" has no sizing policy for that many cores (allowed core ranges: 1-4). Set spec.cpu.cores within one of these ranges or choose another class',
      ]);
      assert.match(r.stdout, /: 1 denied, 0 warned, \d+ allowed/);
    });

    test("its PolicyReport is created in the cluster: one failure, for vms/large", async () => {
      const report = await virtguardCli(["audit", "--cluster", "--kubeconfig", kubeconfig, "-q", "-o", "policyreport"]);
      assert.equal(report.code, 1, report.stderr);
      await must(["apply", "-f", "-"], report.stdout);
      const got = await must(["get", "policyreport", "virtguard-audit", "-n", "vms", "-o", "json"]);
      const pr = JSON.parse(got.stdout) as { summary: Record<string, number>; results: { policy: string; result: string; resources: { name: string }[] }[] };
      assert.equal(pr.summary.fail, 1);
      assert.deepEqual(
        pr.results.map((x) => `${x.policy} ${x.result} ${x.resources.map((res) => res.name).join(",")}`),
        ["vm-class-sizing fail large"],
      );
      await must(["get", "policyreports", "-n", "vms"]);
    });
  });
}
