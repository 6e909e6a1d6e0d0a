import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CHECK, CHECK_POLICIES, ROOMY_CLASS, runCli, tempTree, vmYaml } from "./helpers.js";

const REPO = join(CHECK, "repo");
const LEGACY = join(CHECK, "legacy-vm.yaml");
const ARGS = ["check", "-q", "--policies", CHECK_POLICIES];

test("exit 0: nothing denied", async () => {
  const dir = tempTree({ "vm.yaml": vmYaml("fine", 4), "class.yaml": ROOMY_CLASS });
  const { code, stdout, stderr } = await runCli([...ARGS, dir]);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, "2 objects in 2 files: 0 denied, 0 warned, 1 allowed, 1 skipped (no policy matches); 0 denials, 0 warnings\n");
});

test("exit 0: an empty directory is nothing to deny", async () => {
  const { code, stdout } = await runCli([...ARGS, tempTree({})]);
  assert.equal(code, 0);
  assert.match(stdout, /^0 objects in 0 files/);
});

test("exit 1: something is denied", async () => {
  const { code } = await runCli([...ARGS, REPO]);
  assert.equal(code, 1);
});

test("warnings: exit 0, or 1 with --warnings-as-errors", async () => {
  const plain = await runCli([...ARGS, LEGACY, join(REPO, "classes.yaml")]);
  assert.equal(plain.code, 0, plain.stdout);
  assert.match(plain.stdout, / WARN {2}\[test-vm-legacy-paravirt\]/);
  const strict = await runCli([...ARGS, "--warnings-as-errors", LEGACY, join(REPO, "classes.yaml")]);
  assert.equal(strict.code, 1);
});

const usageErrors: [string, string[], RegExp, string?][] = [
  ["no PATH", [], /missing PATH/],
  ["an unknown flag", ["--frobnicate", REPO], /Unknown option '--frobnicate'/],
  ["an unknown output format", ["-o", "html", REPO], /--output must be one of text, json, junit, sarif, got "html"/],
  ["--deletions without --against", ["--deletions", REPO], /--deletions needs --against/],
  ["stdin twice", ["-", "--against", "-"], /can be given only once/],
  ["a missing file", ["/nonexistent/vm.yaml"], /^virtguard: \/nonexistent\/vm\.yaml: cannot read: ENOENT$/m],
  ["a bad --param", ["--param", "maxCores=lots", REPO], /parameter "maxCores" = "lots"/],
  ["an unknown --param", ["--param", "nosuch=1", REPO], /unknown parameter "nosuch"/],
  ["a missing --context file", ["--context", "/nonexistent/ctx.yaml", REPO], /\/nonexistent\/ctx\.yaml: cannot read/],
];

for (const [what, args, message] of usageErrors) {
  test(`exit 2 on ${what}, one line on stderr, nothing on stdout`, async () => {
    const { code, stdout, stderr } = await runCli([...ARGS, ...args]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, message);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
  });
}

test("exit 2 on invalid YAML, naming the file and line", async () => {
  const dir = tempTree({ "vm.yaml": `${vmYaml("a", 2)}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n` });
  const { code, stdout, stderr } = await runCli([...ARGS, dir]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^virtguard: .*vm\.yaml:2\d: invalid YAML: /);
});

test("a Chart.yaml and values.yaml beside a denied VM: exit 1, the VM denied, the others listed in a note", async () => {
  const dir = tempTree({ "Chart.yaml": "apiVersion: v2\nname: vms\nversion: 0.1.0\n", "values.yaml": "cores: 300\n", "vm.yaml": vmYaml("huge", 300), "class.yaml": ROOMY_CLASS });
  const { code, stdout, stderr } = await runCli(["check", "--policies", CHECK_POLICIES, dir]);
  assert.equal(code, 1, stderr);
  assert.match(stdout, /vm\.yaml:\d+ +VirtualMachine\/[^ ]*huge +DENY/);
  assert.match(stderr, /note: skipped 2 documents that are not Kubernetes objects: .*Chart\.yaml:1 \(not a Kubernetes object \(no kind\)\), .*values\.yaml:1/);
});

test("exit 2 on several invalid files: each named on its own line", async () => {
  const dir = tempTree({ "a.yaml": "a: [\n", "b.yaml": "b: {\n", "vm.yaml": vmYaml("fine", 2) });
  const { code, stdout, stderr } = await runCli([...ARGS, dir]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 3, stderr);
  assert.match(lines[0] ?? "", /^virtguard check: error: .*a\.yaml:2: invalid YAML/);
  assert.match(lines[1] ?? "", /^virtguard check: error: .*b\.yaml:2: invalid YAML/);
  assert.match(lines[2] ?? "", /^virtguard: 2 files could not be read \(listed above\); nothing was checked$/);
});

test("exit 2 on an invalid policy, naming its file and field", async () => {
  const policies = tempTree({ "bad.json": JSON.stringify({ apiVersion: "policies.virtguard.io/v1alpha1", kind: "ValidationPolicy", metadata: { name: "bad" }, spec: { description: "x", match: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], operations: ["CREATE"] }] }, validations: [{ expression: "object.spec.(", action: "Deny", message: "m" }] } }) });
  const { code, stdout, stderr } = await runCli(["check", "--policies", policies, REPO]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^virtguard: invalid policy: .*bad\.json: spec\.validations\[0\]\.expression: /m);
});

test("--help carries examples and exits 0", async () => {
  const { code, stdout } = await runCli(["check", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: virtguard check /);
  assert.match(stdout, /Examples:\n/);
  assert.match(stdout, /git merge-base/);
  assert.match(stdout, /-o sarif --output-file/);
});
