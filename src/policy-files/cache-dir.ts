import { homedir, platform } from "node:os";
import { join } from "node:path";

/**
 * virtguard's directory in the user's cache: VIRTGUARD_CACHE_DIR when set, else $XDG_CACHE_HOME
 * or ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows. What lives there
 * only saves time: deleting it is always safe.
 */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env, os = platform(), home = homedir()): string {
  if (env.VIRTGUARD_CACHE_DIR) return env.VIRTGUARD_CACHE_DIR;
  const base =
    os === "win32" ? (env.LOCALAPPDATA ?? join(home, "AppData", "Local")) : os === "darwin" ? join(home, "Library", "Caches") : (env.XDG_CACHE_HOME || join(home, ".cache"));
  return join(base, "virtguard");
}
