import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { readYaml } from "../../src/yaml/read.js";
import { runCli, tempTree } from "../check/helpers.js";

/** A VirtualMachine as `kubectl get -o yaml` prints it: server fields, managedFields, status. */
function vm(name: string, namespace: string, cores: number): string {
  return `  - apiVersion: virtualization.deckhouse.io/v1alpha2
    kind: VirtualMachine
    metadata:
      creationTimestamp: "2026-11-20T10:00:00Z"
      generation: 1
      managedFields:
        - apiVersion: virtualization.deckhouse.io/v1alpha2
          fieldsType: FieldsV1
          fieldsV1: {f:spec: {}}
          manager: kubectl-client-side-apply
          operation: Update
      name: ${name}
      namespace: ${namespace}
      resourceVersion: "${1000 + cores}"
      uid: 6f1c2d3e-0000-4000-8000-00000000000${cores}
    spec:
      virtualMachineClassName: compute
      cpu:
        cores: ${cores}
        coreFraction: 100%
      memory:
        size: ${cores * 2}Gi
      blockDeviceRefs:
        - kind: VirtualDisk
          name: ${name}-root
      runPolicy: AlwaysOn
      osType: Generic
      bootloader: BIOS
    status:
      phase: Running
      ipAddress: 10.66.10.${cores}
`;
}

/** A dump: a class limited to 1-4 cores and VMs of 2, 4 and 8 cores. */
const DUMP = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
  - apiVersion: virtualization.deckhouse.io/v1alpha3
    kind: VirtualMachineClass
    metadata:
      generation: 3
      name: compute
      resourceVersion: "900"
      uid: 6f1c2d3e-0000-4000-8000-0000000000c1
    spec:
      cpu:
        type: Host
      sizingPolicies:
        - cores: {min: 1, max: 4}
          memory: {min: 1Gi, max: 32Gi}
          coreFractions: ["50%", "100%"]
${vm("small", "tenant-a", 2)}${vm("medium", "tenant-a", 4)}${vm("large", "tenant-b", 8)}`;

/** The 1-based line where the 8-core VM's item starts (its first field, where reports point). */
const LARGE_LINE = DUMP.split("\n").findLastIndex((l) => l.startsWith("  - apiVersion: virtualization.deckhouse.io/v1alpha2")) + 1;

const REASON =
  'spec.cpu.cores is 8; VirtualMachineClass "compute" has no sizing policy for that many cores (allowed core ranges: 1-4). Set spec.cpu.cores within one of these ranges or choose another class';

describe("virtguard audit of a cluster dump", () => {
  test("a class limited to 1-4 cores with VMs of 2, 4 and 8: exit 1, naming only the 8-core VM, with the reason", async () => {
    const dir = tempTree({ "dump.yaml": DUMP });
    const { code, stdout, stderr } = await runCli(["audit", join(dir, "dump.yaml")]);
    assert.equal(code, 1, stderr);
    const lines = stdout.trimEnd().split("\n");
    assert.deepEqual(lines, [
      `${join(dir, "dump.yaml")}:${LARGE_LINE}  VirtualMachine/tenant-b/large  DENY  [vm-class-sizing] ${REASON}`,
      "4 objects in 1 file: 1 denied, 0 warned, 3 allowed, 0 skipped (no policy matches); 1 denial, 0 warnings",
    ]);
    assert.match(stderr, /virtguard audit: judged 4\/4 objects, 1 denied/);
  });

  test("stdin, and every format: json, sarif, policyreport", async () => {
    const json = await runCli(["audit", "-q", "-o", "json", "-"], { input: DUMP });
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as { kind: string; objects: { name: string; operation: string; status: string }[] };
    assert.equal(report.kind, "AuditReport");
    assert.deepEqual(
      report.objects.map((o) => `${o.name} ${o.operation} ${o.status}`),
      ["compute UPDATE allowed", "small UPDATE allowed", "medium UPDATE allowed", "large UPDATE denied"],
    );

    const sarif = await runCli(["audit", "-q", "-o", "sarif", "-"], { input: DUMP });
    const results = (JSON.parse(sarif.stdout) as { runs: { results: { ruleId: string; message: { text: string } }[] }[] }).runs[0]?.results ?? [];
    assert.deepEqual(results.map((r) => `${r.ruleId}: ${r.message.text}`), [`vm-class-sizing: VirtualMachine/tenant-b/large: ${REASON}`]);

    const pr = await runCli(["audit", "-q", "-o", "policyreport", "-"], { input: DUMP });
    assert.equal(pr.code, 1);
    const list = readYaml(pr.stdout) as { kind: string; items: { kind: string; metadata: { name: string; namespace?: string }; summary: Record<string, number>; results: { policy: string; result: string; resources: { name: string }[] }[] }[] };
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((r) => `${r.kind} ${r.metadata.namespace ?? "-"}/${r.metadata.name} fail=${r.summary.fail} results=${r.results.map((x) => `${x.policy}:${x.result}:${x.resources[0]?.name}`).join(",")}`),
      [
        "ClusterPolicyReport -/virtguard-audit fail=0 results=",
        "PolicyReport tenant-a/virtguard-audit fail=0 results=",
        "PolicyReport tenant-b/virtguard-audit fail=1 results=vm-class-sizing:fail:large",
      ],
    );
  });

  test("existing objects are judged as an UPDATE of themselves: CREATE-only rules stay silent", async () => {
    // vm-metadata limits names to 63 characters on CREATE only: an existing VM with a longer name is not reported.
    const long = "a-virtual-machine-whose-name-is-much-too-long-for-a-label-value-x";
    const dir = tempTree({ "dump.yaml": DUMP.replace("name: small\n", `name: ${long}\n`) });
    const { code, stdout } = await runCli(["audit", "-q", join(dir, "dump.yaml")]);
    assert.equal(code, 1);
    assert.doesNotMatch(stdout, /vm-metadata/);
  });

  test("a dump where everything fits: exit 0", async () => {
    const dir = tempTree({ "dump.yaml": DUMP.replace("max: 4}", "max: 8}") });
    const { code, stdout } = await runCli(["audit", "-q", dir]);
    assert.equal(code, 0, stdout);
    assert.equal(stdout, "4 objects in 1 file: 0 denied, 0 warned, 4 allowed, 0 skipped (no policy matches); 0 denials, 0 warnings\n");
  });

  const usageErrors: [string, string[], RegExp][] = [
    ["no PATH and no --cluster", ["audit"], /missing PATH .* or --cluster/],
    ["PATHs with --cluster", ["audit", "--cluster", "dump.yaml"], /--cluster and PATHs exclude each other/],
    ["--kubeconfig without --cluster", ["audit", "--kubeconfig", "k", "dump.yaml"], /--kubeconfig needs --cluster/],
    ["an unknown format", ["audit", "-o", "junit", "dump.yaml"], /--output must be one of text, json, sarif, policyreport, got "junit"/],
  ];
  for (const [what, args, message] of usageErrors) {
    test(`usage error, exit 2: ${what}`, async () => {
      const { code, stderr } = await runCli(args);
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    });
  }

  test("a dump that is not YAML: exit 2, one line naming the file and the line", async () => {
    const dir = tempTree({ "dump.yaml": "items:\n  - a: [unclosed\n" });
    const { code, stderr } = await runCli(["audit", join(dir, "dump.yaml")]);
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`${join(dir, "dump.yaml").replaceAll("/", "\\/")}:\\d+`));
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  });

  test("several dumps that are not YAML: exit 2, each named on its own line, then their count", async () => {
    const dir = tempTree({ "a.yaml": "a: [\n", "b.yaml": "b: {\n" });
    const { code, stdout, stderr } = await runCli(["audit", "--quiet", join(dir, "a.yaml"), join(dir, "b.yaml")]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    const lines = stderr.trimEnd().split("\n");
    assert.equal(lines.length, 3, stderr);
    assert.match(lines[0] ?? "", /^virtguard audit: error: .*a\.yaml:2: invalid YAML/);
    assert.match(lines[1] ?? "", /^virtguard audit: error: .*b\.yaml:2: invalid YAML/);
    assert.match(lines[2] ?? "", /^virtguard: 2 files could not be read \(listed above\); nothing was audited$/);
  });

  test("--help documents the UPDATE-of-itself judgment and the formats", async () => {
    const { code, stdout } = await runCli(["audit", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /as an UPDATE of itself/);
    assert.match(stdout, /policyreport/);
  });
});
