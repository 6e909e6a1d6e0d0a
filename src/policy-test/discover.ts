import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SuiteError } from "./suite.js";

/** virtguard-test.yaml, and NAME.virtguard-test.yaml for several suites in one directory. */
export const SUITE_FILE = /(^|\.)virtguard-test\.ya?ml$/;

/**
 * Suite files under the given paths, recursively and in a stable order; a file named explicitly is
 * taken whatever its name. Hidden directories and node_modules are skipped.
 */
export function discoverSuites(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new SuiteError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (stat.isDirectory()) walk(path, out);
    else out.push(path);
  }
  return [...new Set(out)];
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(".") || name === "node_modules") continue;
    const path = join(dir, name);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      continue;
    }
    if (stat.isDirectory()) walk(path, out);
    else if (SUITE_FILE.test(name)) out.push(path);
  }
}
