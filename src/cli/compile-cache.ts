import { join } from "node:path";
import { userCacheDir } from "../policy-files/cache-dir.js";

/**
 * Where V8's compile cache for virtguard lives: NODE_COMPILE_CACHE when set (Node's own variable),
 * else compile-cache/ in virtguard's user cache directory (policy-files/cache-dir.ts). Node keys
 * entries by its version and each file's content, so upgrades never read stale code.
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env, os?: NodeJS.Platform, home?: string): string {
  if (env.NODE_COMPILE_CACHE) return env.NODE_COMPILE_CACHE;
  return join(userCacheDir(env, os, home), "compile-cache");
}
