// certs/ is where `virtguard certs` writes by default: its README and .gitignore are tracked, and
// no key or certificate written there can be committed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "./helpers.js";

function ignored(path: string): boolean {
  const r = spawnSync("git", ["check-ignore", "--quiet", "--no-index", path], { cwd: repoRoot, encoding: "utf8" });
  assert.ok(r.status === 0 || r.status === 1, `git check-ignore ${path}: ${r.stderr}`);
  return r.status === 0;
}

test("certs/ keeps its README and .gitignore, and git ignores everything virtguard certs writes there", () => {
  for (const f of ["README.md", ".gitignore"]) {
    assert.ok(existsSync(join(repoRoot, "certs", f)), `certs/${f} is missing`);
    assert.equal(ignored(`certs/${f}`), false, `certs/${f} is ignored`);
  }
  for (const f of ["ca.crt", "ca.key", "tls.crt", "tls.key", "secret.yaml", "old/ca.key"]) assert.equal(ignored(`certs/${f}`), true, `certs/${f} could be committed`);
});
