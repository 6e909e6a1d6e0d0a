#!/usr/bin/env node
// The bin entry: turns on Node's compile cache, then loads the CLI: the bundle the build makes
// (dist/src/bundle/, scripts/bundle.ts) when it is at least as new as the modules, else the
// modules themselves (a tree built with tsc alone). Every module loaded after this line is
// compiled by V8 once per version and read from the cache afterwards.
import { statSync } from "node:fs";
import * as nodeModule from "node:module";
import { compileCacheDir } from "./compile-cache.js";

// Typed by hand: the project's @types/node predates the API (Node 22.1+).
const { enableCompileCache } = nodeModule as { enableCompileCache?: (dir: string) => unknown };
try {
  const dir = compileCacheDir();
  // Worker threads (check's parser) read it from the environment they inherit.
  process.env.NODE_COMPILE_CACHE = dir;
  enableCompileCache?.(dir);
} catch {
  // A cache that cannot be written only costs speed.
}

function freshBundle(): boolean {
  try {
    return statSync(new URL("../bundle/cli.js", import.meta.url)).mtimeMs >= statSync(new URL("./cli.js", import.meta.url)).mtimeMs;
  } catch {
    return false;
  }
}

const { runCli } = (freshBundle() ? await import(new URL("../bundle/cli.js", import.meta.url).href) : await import("./cli.js")) as typeof import("./cli.js");
await runCli(process.argv.slice(2));
