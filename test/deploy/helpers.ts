import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test/deploy/). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
/** The built CLI. */
export const cliMain = join(repoRoot, "dist", "src", "cli", "main.js");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `virtguard ARGS` as a real process. */
export function virtguard(args: string[], opts: { cwd?: string; input?: string } = {}): Run {
  const r = spawnSync(process.execPath, [cliMain, ...args], { cwd: opts.cwd ?? repoRoot, input: opts.input, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs another program; `missing` is true when it is not installed. */
export function tool(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Run & { missing: boolean } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, env: opts.env ?? process.env, encoding: "utf8", timeout: 60_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", missing };
}

/** Fails the test file, naming the tool, when a program these tests run as an independent check is not installed. */
export function requireTool(cmd: string, versionArgs: string[]): void {
  if (tool(cmd, versionArgs).missing) throw new Error(`${cmd} is not installed: these tests check virtguard's output with it (install it, e.g. apt-get install ${cmd})`);
}

const tempDirs: string[] = [];

/** A temporary directory; removeTempDirs() (call it from after()) deletes them all. */
export function tempDir(prefix = "virtguard-deploy-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
