/**
 * `virtguard check` benchmark (issue 6): a generated repository of 10,000 VirtualMachines in 500
 * files, plus their classes and the virtualization ModuleConfig, checked by the real CLI as a
 * process, as CI runs it. Reports wall time, peak RSS and the share spent parsing YAML (from
 * VIRTGUARD_PROFILE=1 phase timings), then the start-up time of a check of one small file.
 *
 *   npm run bench:check
 *   BENCH_RUNS=5 BENCH_STARTUP_RUNS=20 npm run bench:check
 *   BENCH_KEEP_REPO=1 npm run bench:check      # keep the generated repository, to profile against
 *
 * Targets on the project's machine (2 cores): the big repository in under 5 s and 500 MB; one
 * small file in under 400 ms.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI, FIXTURES } from "../test/support/paths.js";

const VMS = 10_000;
const FILES = 500;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 10);
const TIME = "/usr/bin/time";

const CLASSES = ["small", "medium", "large", "huge"];

function classYaml(name: string, maxCores: number): string {
  return `apiVersion: virtualization.deckhouse.io/v1alpha3
kind: VirtualMachineClass
metadata:
  name: ${name}
spec:
  cpu:
    type: Host
  sizingPolicies:
    - cores:
        min: 1
        max: ${maxCores}
      memory:
        perCore:
          min: 512Mi
          max: 16Gi
      coreFractions: ["10%", "20%", "50%", "100%"]
`;
}

/** A VirtualMachine that fits its class; every 1000th one asks for 249 cores, so the report has a few denials. */
function vmYaml(i: number): string {
  const cls = i % CLASSES.length;
  const cores = i % 1000 === 999 ? 249 : ([1, 2, 4][Math.floor(i / CLASSES.length) % 3] as number) * 2 ** cls;
  return `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: vm-${i}
  namespace: tenant-${i % 50}
  labels:
    app: app-${i % 20}
    tier: ${i % 3 === 0 ? "db" : "web"}
spec:
  virtualMachineClassName: ${CLASSES[cls]}
  cpu:
    cores: ${cores}
    coreFraction: ${[10, 20, 50, 100][i % 4]}%
  memory:
    size: ${cores * 2}Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: vm-${i}-root
    - kind: VirtualImage
      name: ubuntu-24-04
  runPolicy: AlwaysOnUnlessStoppedManually
  osType: Generic
  bootloader: EFI
  liveMigrationPolicy: PreferSafe
`;
}

/** The repository: vms/NNN.yaml with 20 VirtualMachines each, classes.yaml, moduleconfig.yaml. */
function generate(dir: string): void {
  mkdirSync(join(dir, "vms"));
  const perFile = VMS / FILES;
  for (let f = 0; f < FILES; f++) {
    const docs: string[] = [];
    for (let j = 0; j < perFile; j++) docs.push(vmYaml(f * perFile + j));
    writeFileSync(join(dir, "vms", `${String(f).padStart(3, "0")}.yaml`), docs.join("---\n"));
  }
  writeFileSync(join(dir, "classes.yaml"), CLASSES.map((c, i) => classYaml(c, [4, 8, 16, 32][i] as number)).join("---\n"));
  writeFileSync(
    join(dir, "moduleconfig.yaml"),
    `apiVersion: deckhouse.io/v1alpha1
kind: ModuleConfig
metadata:
  name: virtualization
spec:
  enabled: true
  version: 1
  settings:
    virtualMachineCIDRs: [10.66.0.0/16]
    dvcr:
      storage:
        type: PersistentVolumeClaim
        persistentVolumeClaim: {size: 50G, storageClassName: linstor-thin-r1}
`,
  );
}

interface Run {
  wallMs: number;
  maxRssMb: number;
  exit: number | null;
  profile: string;
  summary: string;
  cpuMs?: number;
}

const haveTime = existsSync(TIME);

/**
 * Runs the CLI and measures it: wall time here; peak RSS and CPU from /usr/bin/time -v when the
 * machine has it, else from the child's own process.resourceUsage() through a wrapper.
 */
function runCheck(args: string[], env: Record<string, string> = {}): Run {
  const wrapperDir = mkdtempSync(join(tmpdir(), "virtguard-bench-wrapper-"));
  const wrapper = join(wrapperDir, "wrapper.mjs");
  writeFileSync(
    wrapper,
    `process.on("exit", () => { const u = process.resourceUsage(); process.stderr.write("\\nbench-rusage " + u.maxRSS + " " + Math.round((u.userCPUTime + u.systemCPUTime) / 1000) + "\\n"); });
process.argv.splice(1, 1);
await import(${JSON.stringify(new URL(`file://${CLI}`).href)});
`,
  );
  const command = haveTime ? [TIME, "-v", process.execPath, CLI, "check", ...args] : [process.execPath, wrapper, CLI, "check", ...args];
  const t = performance.now();
  const child = spawnSync(command[0] as string, command.slice(1), { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t;
  rmSync(wrapperDir, { recursive: true, force: true });
  const stderr = child.stderr ?? "";
  let maxRssMb = NaN;
  let cpuMs: number | undefined;
  if (haveTime) {
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
    maxRssMb = rss ? Number(rss[1]) / 1024 : NaN;
    const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
    const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
    if (user && sys) cpuMs = (Number(user[1]) + Number(sys[1])) * 1000;
  } else {
    const m = /bench-rusage (\d+) (\d+)/.exec(stderr);
    maxRssMb = m ? Number(m[1]) / 1024 : NaN;
    cpuMs = m ? Number(m[2]) : undefined;
  }
  const exit = haveTime ? Number(/Exit status: (\d+)/.exec(stderr)?.[1] ?? child.status) : child.status;
  if (exit === 2 || exit === null) throw new Error(`virtguard check ${args.join(" ")} failed (exit ${exit}):\n${stderr}`);
  return {
    wallMs,
    maxRssMb,
    exit,
    cpuMs,
    profile: /^profile: .*$/m.exec(stderr)?.[0] ?? "",
    summary: /^virtguard check: \d+ objects? in .*$/m.exec(stderr)?.[0] ?? "",
  };
}

function phase(profile: string, name: string): number {
  const escaped = name.replace(/[()]/g, "\\$&");
  return Number(new RegExp(`[;,] ${escaped} (\\d+)ms`).exec(profile)?.[1] ?? NaN);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

const repo = mkdtempSync(join(tmpdir(), "virtguard-bench-repo-"));
try {
  generate(repo);
  console.log(`virtguard check benchmark: ${VMS.toLocaleString("en-US")} VirtualMachines in ${FILES} files, ${CLASSES.length} classes and the ModuleConfig (${repo})`);
  console.log(`peak RSS and CPU via ${haveTime ? "/usr/bin/time -v" : "the child's process.resourceUsage()"}; ${RUNS} runs, median shown\n`);

  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(runCheck(["-o", "json", "--output-file", join(repo, "report.json"), repo], { VIRTGUARD_PROFILE: "1" }));
  const wall = median(runs.map((r) => r.wallMs));
  const rss = Math.max(...runs.map((r) => r.maxRssMb));
  const cpu = median(runs.map((r) => r.cpuMs ?? NaN));
  const mid = runs.find((r) => r.wallMs === wall) ?? (runs[0] as Run);
  const total = Number(/profile: total (\d+)ms/.exec(mid.profile)?.[1] ?? NaN);
  const inWorker = !Number.isNaN(phase(mid.profile, "parse (worker)"));
  const parse = inWorker ? phase(mid.profile, "parse (worker)") : phase(mid.profile, "parse");
  const waited = phase(mid.profile, "parse-wait");
  console.log(`big repository     wall ${fmt(wall)} (target < 5 s: ${wall < 5000 ? "met" : "MISSED"}), CPU ${fmt(cpu)}, peak RSS ${rss.toFixed(0)} MB (target < 500 MB: ${rss < 500 ? "met" : "MISSED"}), exit ${mid.exit}`);
  console.log(`                   ${mid.summary.replace("virtguard check: ", "")}`);
  console.log(
    `YAML parsing       ${fmt(parse)}: ${((100 * parse) / wall).toFixed(0)}% of the wall time, ${((100 * parse) / total).toFixed(0)}% of the check after start-up` +
      (inWorker ? `; in a worker thread, overlapping policy and schema compilation: the main thread waited ${fmt(waited)} for it (${((100 * waited) / wall).toFixed(0)}% of the wall time)` : ""),
  );
  console.log(`phases             ${mid.profile.replace(/^profile: /, "")}`);

  const small = join(FIXTURES, "vm", "vm-basic.yaml");
  const starts: Run[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) starts.push(runCheck(["-q", small], { VIRTGUARD_PROFILE: "1" }));
  const startWall = median(starts.map((r) => r.wallMs));
  const startCpu = median(starts.map((r) => r.cpuMs ?? NaN));
  const floor: number[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const t = performance.now();
    spawnSync(process.execPath, ["-e", "0"]);
    floor.push(performance.now() - t);
  }
  const startMid = starts.find((r) => r.wallMs === startWall) ?? (starts[0] as Run);
  console.log(
    `\none small file     wall ${fmt(startWall)} median of ${STARTUP_RUNS} (min ${fmt(Math.min(...starts.map((r) => r.wallMs)))}; target < 400 ms: ${startWall < 400 ? "met" : "MISSED"}), CPU ${fmt(startCpu)}; node -e 0 alone: ${fmt(median(floor))}`,
  );
  console.log(`phases             ${startMid.profile.replace(/^profile: /, "")}`);
} finally {
  if (process.env.BENCH_KEEP_REPO) console.log(`\nkept the generated repository in ${repo}`);
  else rmSync(repo, { recursive: true, force: true });
}
