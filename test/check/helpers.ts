import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { vmClassYaml } from "../support/manifests.js";
import { CLI, FIXTURES, REPO_ROOT } from "../support/paths.js";

/** The check fixtures: repo/ (a small manifest tree), base/ and head/ (a pull request), legacy-vm.yaml. */
export const CHECK = join(FIXTURES, "check");
/** Test policies for check's mechanics, independent of the shipped set. */
export const CHECK_POLICIES = join(FIXTURES, "check-policies");
export const LEASES = join(FIXTURES, "cluster", "leases.yaml");
export { REPO_ROOT };

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** An executable to run instead of this checkout's dist/src/cli/main.js (an installed `virtguard`). */
  bin?: string;
}

/** Runs the built virtguard CLI as a real process, as CI would, capturing stdout and stderr apart. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    delete env.VIRTGUARD_PROFILE;
    if (opts.env?.VIRTGUARD_PROFILE) env.VIRTGUARD_PROFILE = opts.env.VIRTGUARD_PROFILE;
    const [command, ...pre] = opts.bin ? [opts.bin] : [process.execPath, CLI];
    const child = spawn(command as string, [...pre, ...args], { stdio: ["pipe", "pipe", "pipe"], cwd: opts.cwd ?? REPO_ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** A fresh temporary directory holding the given files (paths relative to it). */
export function tempTree(files: Record<string, string>, prefix = "virtguard-check-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}

/** A VirtualMachine manifest as YAML text. */
export function vmYaml(name: string, cores: number, extra = ""): string {
  return `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: ${name}
  namespace: tenant-a
spec:
  virtualMachineClassName: roomy
  cpu:
    cores: ${cores}
    coreFraction: 50%
  memory:
    size: 8Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: ${name}-root
${extra}`;
}

/** Class "roomy": 1-248 cores at 50% or 100%. */
export const ROOMY_CLASS = vmClassYaml("roomy", { maxCores: 248, coreFractions: ["50%", "100%"] });
