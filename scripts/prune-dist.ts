/**
 * Build step: deletes the compiled modules in dist/ whose TypeScript source is gone (a moved or
 * deleted file), so that `npm test`, which runs every dist/test/**\/*.test.js, never runs a stale
 * test against modules that no longer exist.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("..", import.meta.url));
const root = join(dist, "..");
// esbuild's output, not tsc's: rebuilt whole by scripts/bundle.ts.
const BUNDLE = join(dist, "src", "bundle");
let removed = 0;

function prune(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== BUNDLE) prune(path);
      continue;
    }
    const m = /^(.*)\.js(\.map)?$/.exec(entry.name);
    if (!m) continue;
    const source = join(root, relative(dist, dir), `${m[1]}.ts`);
    if (!existsSync(source)) {
      rmSync(path);
      removed++;
    }
  }
}

// Only what tsc writes from sources; generated artifacts (bundle, precompiled validators) are rebuilt by their own steps.
for (const top of ["src", "test", "bench", "scripts"]) if (existsSync(join(dist, top))) prune(join(dist, top));
if (removed > 0) console.log(`removed ${removed} compiled files of deleted sources from ${dist}`);
