import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, whether this runs from test/ or from dist/test/. */
export const REPO_ROOT = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${"/"}dist${"/"}`) ? resolve(here, "..", "..", "..") : resolve(here, "..", "..");
})();

export const FIXTURES = resolve(REPO_ROOT, "test", "fixtures");
export const DVP_CRDS = resolve(REPO_ROOT, "policies", "crds");
export const CLI = resolve(REPO_ROOT, "dist", "src", "cli", "main.js");
