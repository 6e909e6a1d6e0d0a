/**
 * `virtguard audit` of a cluster dump of 50,000 VirtualMachines (the platform's documented maximum)
 * in 500 namespaces, with their 4 classes and the virtualization ModuleConfig, as one
 * `kubectl get -o yaml` List. One class has been tightened to 1-4 cores, so the VMs of it with
 * more cores no longer fit (1 in 8 of its VMs). The real CLI runs as a process; reports wall time,
 * peak RSS and CPU, and checks the count of denied VMs.
 *
 *   npm run bench:audit
 *   BENCH_VMS=50000 BENCH_RUNS=3 npm run bench:audit
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../test/support/paths.js";

const VMS = Number(process.env.BENCH_VMS ?? 50_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TIME = "/usr/bin/time";
const CLASSES: [string, number][] = [
  ["small", 4],
  ["medium", 8],
  ["large", 16],
  ["tightened", 4],
];

function classItem(name: string, maxCores: number): string {
  return `- apiVersion: virtualization.deckhouse.io/v1alpha3
  kind: VirtualMachineClass
  metadata: {name: ${name}, generation: 2, resourceVersion: "10", uid: 00000000-0000-4000-8000-${name.padStart(12, "0").slice(-12).replace(/[^0-9a-f]/g, "0")}}
  spec:
    cpu: {type: Host}
    sizingPolicies:
    - cores: {min: 1, max: ${maxCores}}
      memory: {min: 1Gi, max: 64Gi}
      coreFractions: ["50%", "100%"]
`;
}

/** The VM's class and cores: the tightened class's VMs have 1-8 cores, so those with 5-8 no longer fit. */
function sizeOf(i: number): { className: string; cores: number } {
  const [className, max] = CLASSES[i % CLASSES.length] as [string, number];
  const cores = className === "tightened" ? 1 + (i % 8) : 1 + (i % max);
  return { className, cores };
}

function vmItem(i: number): string {
  const { className, cores } = sizeOf(i);
  return `- apiVersion: virtualization.deckhouse.io/v1alpha2
  kind: VirtualMachine
  metadata:
    name: vm-${i}
    namespace: tenant-${i % 500}
    uid: 00000000-0000-4000-8000-${String(i).padStart(12, "0")}
    resourceVersion: "${1000 + i}"
    generation: 1
    creationTimestamp: "2026-11-20T10:00:00Z"
    labels: {app: web, tier: "${i % 3}"}
  spec:
    virtualMachineClassName: ${className}
    cpu: {cores: ${cores}, coreFraction: 100%}
    memory: {size: ${cores * 2}Gi}
    blockDeviceRefs:
    - {kind: VirtualDisk, name: vm-${i}-root}
    runPolicy: AlwaysOnUnlessStoppedManually
    osType: Generic
    bootloader: BIOS
  status:
    phase: Running
    ipAddress: 10.66.${(i >> 8) & 255}.${i & 255}
`;
}

function dump(dir: string): { file: string; expectedDenied: number } {
  const parts = ["apiVersion: v1\nkind: List\nitems:\n"];
  for (const [name, max] of CLASSES) parts.push(classItem(name, max));
  parts.push(`- apiVersion: deckhouse.io/v1alpha1
  kind: ModuleConfig
  metadata: {name: virtualization, generation: 3}
  spec: {enabled: true, version: 1, settings: {virtualMachineCIDRs: [10.66.0.0/16], dvcr: {storage: {type: PersistentVolumeClaim, persistentVolumeClaim: {size: 50G, storageClassName: linstor-thin-r1}}}}}
`);
  let expectedDenied = 0;
  for (let i = 0; i < VMS; i++) {
    parts.push(vmItem(i));
    const { className, cores } = sizeOf(i);
    if (className === "tightened" && cores > 4) expectedDenied++;
  }
  const file = join(dir, "dump.yaml");
  writeFileSync(file, parts.join(""));
  return { file, expectedDenied };
}

interface Run {
  wallMs: number;
  maxRssMb: number;
  cpuMs?: number;
  exit: number | null;
  summary: string;
}

function runAudit(args: string[]): Run {
  const command = existsSync(TIME) ? [TIME, "-v", process.execPath, CLI, "audit", ...args] : [process.execPath, CLI, "audit", ...args];
  const t = performance.now();
  const child = spawnSync(command[0] as string, command.slice(1), { encoding: "utf8", maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t;
  const stderr = child.stderr ?? "";
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  const exit = existsSync(TIME) ? Number(/Exit status: (\d+)/.exec(stderr)?.[1] ?? child.status) : child.status;
  if (exit === 2 || exit === null) throw new Error(`virtguard audit failed (exit ${exit}):\n${stderr}`);
  return {
    wallMs,
    maxRssMb: rss ? Number(rss[1]) / 1024 : NaN,
    cpuMs: user && sys ? (Number(user[1]) + Number(sys[1])) * 1000 : undefined,
    exit,
    summary: /^virtguard audit: \d[\d,]* objects? in .*$/m.exec(stderr)?.[0] ?? /^virtguard audit: .*objects.*$/m.exec(stderr)?.[0] ?? "",
  };
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), "virtguard-bench-audit-"));
  try {
    const t = performance.now();
    const { file, expectedDenied } = dump(dir);
    console.log(`generated ${VMS.toLocaleString("en-US")} VirtualMachines in 500 namespaces, 4 classes and the ModuleConfig as one List in ${((performance.now() - t) / 1000).toFixed(1)} s; ${expectedDenied.toLocaleString("en-US")} VMs no longer fit their class`);
    const runs: Run[] = [];
    for (let r = 0; r < RUNS; r++) {
      const run = runAudit(["-o", "json", "--output-file", join(dir, "report.json"), file]);
      runs.push(run);
      console.log(`run ${r + 1}: wall ${(run.wallMs / 1000).toFixed(2)} s, CPU ${run.cpuMs !== undefined ? (run.cpuMs / 1000).toFixed(2) + " s" : "?"}, peak RSS ${run.maxRssMb.toFixed(0)} MB, exit ${run.exit}; ${run.summary}`);
    }
    const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
    const mid = sorted[Math.floor(sorted.length / 2)] as Run;
    const denied = /(\d+) denied/.exec(mid.summary)?.[1];
    console.log(
      `\naudit of ${VMS.toLocaleString("en-US")} VMs: median wall ${(mid.wallMs / 1000).toFixed(2)} s, peak RSS ${Math.max(...runs.map((r) => r.maxRssMb)).toFixed(0)} MB; ` +
        `denied ${denied ?? "?"} (expected ${expectedDenied}: ${Number(denied) === expectedDenied ? "ok" : "MISMATCH"}); exit ${mid.exit} (expected 1)`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
