/**
 * `virtguard check` side by side with its peers (issue 15): the same generated repository of
 * 10,000 VirtualMachines in 500 files (plus their classes and the virtualization ModuleConfig),
 * the same two rules (at most 248 cores; 17-32 cores even, 33-64 a multiple of 4, 65-248 a
 * multiple of 8) in each tool, every tool run as a process as CI runs it, interleaved.
 *
 *   npm run bench:check
 *   BENCH_RUNS=5 BENCH_STARTUP_RUNS=20 npm run bench:check
 *   BENCH_PEERS=gator npm run bench:check      # which peers to build and run (default: gator,kyverno)
 *   BENCH_KEEP_REPO=1 npm run bench:check      # keep the generated repository, to profile against
 *
 * Peers are built from Go modules once (bench/peers/build.sh, cached in ~/.cache/virtguard-bench):
 * gator (Gatekeeper) with a CEL and a Rego ConstraintTemplate, and the Kyverno CLI with a CEL
 * ClusterPolicy (optional: skipped when its build fails). Without Go, virtguard runs alone.
 *
 * What must hold in one run (issue 15): one small file in under 200 ms and at most 3x gator's
 * wall time; 10,000 VMs with the two rules no slower than gator's CEL template; the full shipped
 * set on 10,000 VMs under 2.5 s and 300 MiB; the same VirtualMachines flagged by every tool.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleConfigYaml, vmClassYaml } from "../test/support/manifests.js";
import { CLI, REPO_ROOT } from "../test/support/paths.js";

const VMS = 10_000;
const FILES = 500;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STARTUP_RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 10);
const PEERS = (process.env.BENCH_PEERS ?? "gator,kyverno").split(",").filter(Boolean);
const BUILD_TIMEOUT_MS = Number(process.env.BENCH_BUILD_TIMEOUT_S ?? 1800) * 1000;
const TIME = "/usr/bin/time";
const RULES = join(REPO_ROOT, "bench", "peers", "rules");
const CLASSES = ["small", "medium", "large", "huge"];

/** Cores of VM i: spread over 1..300 so that most VMs break one of the two rules and some break none. */
function coresOf(i: number): number {
  return ((i * 7919) % 300) + 1;
}

/** What the two rules say of a core count (the expected answer every tool must give). */
function violates(cores: number): boolean {
  if (cores > 248) return true;
  if (cores <= 16) return false;
  return cores % (cores <= 32 ? 2 : cores <= 64 ? 4 : 8) !== 0;
}

function vmYaml(i: number): string {
  const cores = coresOf(i);
  return `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: vm-${i}
  namespace: tenant-${i % 50}
  labels:
    app: app-${i % 20}
    tier: ${i % 3 === 0 ? "db" : "web"}
spec:
  virtualMachineClassName: ${CLASSES[i % CLASSES.length]}
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

/** repo/vms/NNN.yaml with 20 VirtualMachines each, classes.yaml, moduleconfig.yaml; one.yaml holds one VM. */
function generate(dir: string): { repo: string; one: string; expected: Set<string> } {
  const repo = join(dir, "repo");
  mkdirSync(join(repo, "vms"), { recursive: true });
  const perFile = VMS / FILES;
  const expected = new Set<string>();
  for (let f = 0; f < FILES; f++) {
    const docs: string[] = [];
    for (let j = 0; j < perFile; j++) {
      const i = f * perFile + j;
      docs.push(vmYaml(i));
      if (violates(coresOf(i))) expected.add(`tenant-${i % 50}/vm-${i}`);
    }
    writeFileSync(join(repo, "vms", `${String(f).padStart(3, "0")}.yaml`), docs.join("---\n"));
  }
  writeFileSync(join(repo, "classes.yaml"), CLASSES.map((c, i) => vmClassYaml(c, { maxCores: [64, 128, 248, 248][i] as number, coreFractions: ["10%", "20%", "50%", "100%"], memoryPerCore: { min: "512Mi", max: "16Gi" } })).join("---\n"));
  writeFileSync(join(repo, "moduleconfig.yaml"), moduleConfigYaml(["10.66.0.0/16"]));
  const one = join(dir, "one.yaml");
  writeFileSync(one, vmYaml(20));
  return { repo, one, expected };
}

interface Run {
  wallMs: number;
  rssMiB: number;
  exit: number | null;
  stdout: string;
  stderr: string;
}

const haveTime = existsSync(TIME);

/** Runs a command, measuring wall time here and peak RSS with /usr/bin/time -v (NaN without it). */
function measure(command: string[], env: Record<string, string> = {}): Run {
  const argv = haveTime ? [TIME, "-v", ...command] : command;
  const t = performance.now();
  const child = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t;
  const stderr = child.stderr ?? "";
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const exit = haveTime ? Number(/Exit status: (\d+)/.exec(stderr)?.[1] ?? child.status) : child.status;
  return { wallMs, rssMiB: rss ? Number(rss[1]) / 1024 : NaN, exit, stdout: child.stdout ?? "", stderr };
}

interface Tool {
  name: string;
  version: string;
  /** The command checking `paths`. */
  command(path: string): string[];
  env?: Record<string, string>;
  /** "namespace/name" of every VirtualMachine the output flags. */
  flagged(run: Run): Set<string>;
  /** Whether the run is a check that completed (with or without findings). */
  ok(run: Run): boolean;
  /** Only some tools are compared on the flagged set (the full shipped set flags more). */
  compare: boolean;
}

function virtguardTool(name: string, policies: string | undefined, compare: boolean, version: string): Tool {
  return {
    name,
    version,
    compare,
    command: (path) => [process.execPath, CLI, "check", "-q", ...(policies ? ["--policies", policies] : []), path],
    env: { VIRTGUARD_PROFILE: "1" },
    // FILE:LINE  Kind/namespace/name  DENY  [policy] message
    flagged: (run) => new Set([...run.stdout.matchAll(/^\S+:\d+\s+VirtualMachine\/([^/\s]+)\/(\S+)\s+DENY\b/gm)].map((m) => `${m[1]}/${m[2]}`)),
    ok: (run) => run.exit === 0 || run.exit === 1,
  };
}

function gatorTool(name: string, binary: string, rules: string, version: string): Tool {
  return {
    name,
    version,
    compare: true,
    command: (path) => [binary, "test", "-f", rules, "-f", path],
    // apiVersion/Kind namespace/name: ["constraint"] Message: "..."
    flagged: (run) => new Set([...run.stdout.matchAll(/^\S+\/VirtualMachine ([^/\s]+)\/(\S+): \[/gm)].map((m) => `${m[1]}/${m[2]}`)),
    ok: (run) => run.exit === 0 || run.exit === 1,
  };
}

function kyvernoTool(binary: string, version: string): Tool {
  return {
    name: "Kyverno CLI, CEL ClusterPolicy",
    version,
    compare: true,
    command: (path) => [binary, "apply", join(RULES, "kyverno-cel.yaml"), "--resource", path],
    // policy vm-cores -> resource namespace/VirtualMachine/name failed:
    flagged: (run) => new Set([...run.stdout.matchAll(/resource ([^/\s]+)\/VirtualMachine\/(\S+) failed/g)].map((m) => `${m[1]}/${m[2]}`)),
    ok: (run) => run.exit === 0 || run.exit === 1,
  };
}

/** Builds (or finds cached) a peer; undefined, with the reason printed in one line, when it cannot. */
function buildPeer(tool: "gator" | "kyverno"): { binary: string; version: string } | undefined {
  const script = join(REPO_ROOT, "bench", "peers", "build.sh");
  const t = performance.now();
  const child = spawnSync("bash", [script, tool], { encoding: "utf8", timeout: BUILD_TIMEOUT_MS, stdio: ["ignore", "pipe", "pipe"] });
  const line = /^[A-Z]+=(.+)$/m.exec(child.stdout ?? "");
  if (child.status === 0 && line?.[1]) {
    const seconds = (performance.now() - t) / 1000;
    if (seconds > 5) console.log(`built ${tool} in ${seconds.toFixed(0)} s (cached from now on)`);
    const version = /-(v[^/]+)\/[^/]+$/.exec(line[1])?.[1] ?? "?";
    return { binary: line[1], version };
  }
  const why =
    child.status === 3
      ? "Go is not installed"
      : child.error
        ? `its build did not finish (${child.error.message})`
        : `its build failed: ${(child.stderr ?? "").trim().split("\n").slice(-1)[0] ?? `exit ${child.status}`}`;
  console.log(`${tool}: not benchmarked: ${why}`);
  return undefined;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function fmt(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function virtguardVersion(): string {
  const child = spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
  return `${(child.stdout ?? "").trim().replace(/^virtguard /, "")} (Node.js ${process.versions.node})`;
}

const work = mkdtempSync(join(tmpdir(), "virtguard-bench-check-"));
try {
  const { repo, one, expected } = generate(work);
  const vg = virtguardVersion();
  const tools: Tool[] = [
    virtguardTool("virtguard check, the two rules", join(RULES, "virtguard"), true, vg),
    virtguardTool("virtguard check, the full shipped set", undefined, false, vg),
  ];
  let gatorCel: Tool | undefined;
  if (PEERS.includes("gator")) {
    const gator = buildPeer("gator");
    if (gator) {
      gatorCel = gatorTool("gator test, CEL template", gator.binary, join(RULES, "gator-cel.yaml"), gator.version);
      tools.push(gatorCel, gatorTool("gator test, Rego template", gator.binary, join(RULES, "gator-rego.yaml"), gator.version));
    }
  }
  if (PEERS.includes("kyverno")) {
    const kyverno = buildPeer("kyverno");
    if (kyverno) tools.push(kyvernoTool(kyverno.binary, kyverno.version));
  }

  console.log(
    `\n${VMS.toLocaleString("en-US")} VirtualMachines in ${FILES} files (${expected.size.toLocaleString("en-US")} break a rule), ` +
      `${RUNS} interleaved runs (start-up: ${STARTUP_RUNS}), median shown; peak RSS via ${haveTime ? "/usr/bin/time -v" : "nothing (no /usr/bin/time)"}`,
  );

  // Interleaved: one run of each tool per round, so background load falls on all alike.
  const big = new Map<Tool, Run[]>(tools.map((t) => [t, []]));
  const small = new Map<Tool, Run[]>(tools.map((t) => [t, []]));
  for (let r = 0; r < RUNS; r++) {
    for (const tool of tools) {
      const run = measure(tool.command(repo), tool.env);
      if (!tool.ok(run)) throw new Error(`${tool.name} failed (exit ${run.exit}):\n${run.stderr.slice(-2000)}`);
      big.get(tool)?.push(run);
    }
  }
  for (let r = 0; r < STARTUP_RUNS; r++) {
    for (const tool of tools) {
      const run = measure(tool.command(one), tool.env);
      if (!tool.ok(run)) throw new Error(`${tool.name} on one file failed (exit ${run.exit}):\n${run.stderr.slice(-2000)}`);
      small.get(tool)?.push(run);
    }
  }
  const floor: number[] = [];
  for (let i = 0; i < STARTUP_RUNS; i++) floor.push(measure([process.execPath, "-e", "0"]).wallMs);

  const rows = tools.map((tool) => {
    const runs = big.get(tool) as Run[];
    const wall = median(runs.map((r) => r.wallMs));
    return {
      tool,
      startup: median((small.get(tool) as Run[]).map((r) => r.wallMs)),
      wall,
      rss: Math.max(...runs.map((r) => r.rssMiB)),
      flagged: tool.flagged(runs[0] as Run),
      profile: /^profile: .*$/m.exec((runs.find((r) => r.wallMs === wall) ?? (runs[0] as Run)).stderr)?.[0],
    };
  });

  console.log("\n| tool | version | 1 VM (start-up) | 10,000 VMs | peak RSS (10k) | VMs flagged |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.tool.name} | ${r.tool.version} | ${fmt(r.startup)} | ${fmt(r.wall)} | ${r.rss.toFixed(0)} MiB | ${r.flagged.size.toLocaleString("en-US")} |`);
  }
  console.log(`\nnode -e 0 alone: ${fmt(median(floor))}`);
  for (const r of rows) if (r.profile) console.log(`${r.tool.name}: ${r.profile}`);

  // The same objects, flagged by every tool compared (and what the rules say they should be).
  const mismatches: string[] = [];
  for (const r of rows) {
    const flagged = r.flagged;
    if (!r.tool.compare) {
      const missing = [...expected].filter((k) => !flagged.has(k));
      if (missing.length) mismatches.push(`${r.tool.name} does not flag ${missing.length} VMs the two rules flag (e.g. ${missing.slice(0, 3).join(", ")})`);
      continue;
    }
    const missing = [...expected].filter((k) => !flagged.has(k));
    const extra = [...flagged].filter((k) => !expected.has(k));
    if (missing.length || extra.length) {
      mismatches.push(`${r.tool.name}: ${missing.length} missed (e.g. ${missing.slice(0, 3).join(", ")}), ${extra.length} extra (e.g. ${extra.slice(0, 3).join(", ")})`);
    }
  }

  const [two, full] = rows;
  const gatorRow = rows.find((r) => r.tool === gatorCel);
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log("\nmust show (issue 15):");
  if (two && gatorRow) {
    console.log(`  one small file under 200 ms and at most 3x gator: ${fmt(two.startup)} vs gator ${fmt(gatorRow.startup)} (${(two.startup / gatorRow.startup).toFixed(1)}x): ${verdict(two.startup < 200 && two.startup <= 3 * gatorRow.startup)}`);
    console.log(`  10,000 VMs, the two rules, no slower than gator's CEL template: ${fmt(two.wall)} vs ${fmt(gatorRow.wall)}: ${verdict(two.wall <= gatorRow.wall)}`);
  } else if (two) {
    console.log(`  one small file under 200 ms: ${fmt(two.startup)}: ${verdict(two.startup < 200)} (no gator to compare with)`);
  }
  if (full) console.log(`  the full shipped set on 10,000 VMs under 2.5 s and 300 MiB: ${fmt(full.wall)}, ${full.rss.toFixed(0)} MiB: ${verdict(full.wall < 2500 && full.rss < 300)}`);
  console.log(`  the same ${expected.size.toLocaleString("en-US")} VirtualMachines flagged by every tool: ${mismatches.length === 0 ? "met" : `MISSED\n    ${mismatches.join("\n    ")}`}`);
} finally {
  if (process.env.BENCH_KEEP_REPO) console.log(`\nkept the generated repository in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
