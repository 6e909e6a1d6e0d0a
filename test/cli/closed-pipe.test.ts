import assert from "node:assert/strict";
import { test } from "node:test";
import { CHECK_POLICIES, ROOMY_CLASS, runCli, tempTree, vmYaml } from "../check/helpers.js";
import { CLI } from "../support/paths.js";

/** Runs `virtguard ARGS | READER` in bash with pipefail: a real pipe whose reader leaves early. */
function pipeline(args: string[], reader: string) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return runCli(["-c", `set -o pipefail; ${[process.execPath, CLI, ...args].map(quote).join(" ")} | ${reader}`], { bin: "bash" });
}

test("virtguard manifests | head -1: the first line, exit 0, nothing on stderr", async () => {
  // The output (the policies ConfigMap alone is over 100 KB) is larger than a pipe holds, so the write after head leaves fails.
  const { code, stdout, stderr } = await pipeline(["manifests", "--skip-webhook"], "head -1");
  assert.equal(stderr, "");
  assert.equal(stdout, "apiVersion: v1\n");
  assert.equal(code, 0);
});

test("a check whose reader leaves early keeps its own exit code (1: denials) and says nothing of the pipe", async () => {
  const files: Record<string, string> = { "class.yaml": ROOMY_CLASS };
  for (let i = 0; i < 300; i++) files[`vm-${i}.yaml`] = vmYaml(`vm-${i}`, 300);
  const { code, stdout, stderr } = await pipeline(["check", "-q", "-o", "json", "--policies", CHECK_POLICIES, tempTree(files)], "head -c 100");
  assert.equal(stdout.length, 100);
  assert.doesNotMatch(stderr, /EPIPE|Error/);
  assert.equal(code, 1, stderr);
});
