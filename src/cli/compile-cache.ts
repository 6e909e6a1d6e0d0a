import { homedir, platform } from "node:os";
import { join } from "node:path";

/**
 * Where V8's compile cache for virtguard lives: NODE_COMPILE_CACHE when set (Node's own variable),
 * else the user's cache directory ($XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on
 * macOS, %LOCALAPPDATA% on Windows). Node keys entries by its version and each file's content,
 * so upgrades never read stale code. NODE_DISABLE_COMPILE_CACHE=1 turns it off.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env, os = platform(), home = homedir()): string {
  if (env.NODE_COMPILE_CACHE) return env.NODE_COMPILE_CACHE;
  const base =
    os === "win32" ? (env.LOCALAPPDATA ?? join(home, "AppData", "Local")) : os === "darwin" ? join(home, "Library", "Caches") : (env.XDG_CACHE_HOME || join(home, ".cache"));
  return join(base, "virtguard", "compile-cache");
}
