#!/usr/bin/env node
// The bin entry: only turns on Node's compile cache, then loads the CLI. Every module loaded after
// this line (all of virtguard and its dependencies) is compiled by V8 once per version and read
// from the cache afterwards; a CI job or pre-commit hook pays module compilation only the first time.
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
const { runCli } = await import("./cli.js");
await runCli(process.argv.slice(2));
