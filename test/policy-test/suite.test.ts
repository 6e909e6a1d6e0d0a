import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { Verdict } from "../../src/engine/index.js";
import { mismatches, resultOf } from "../../src/policy-test/expect.js";
import { mergePatch } from "../../src/policy-test/merge-patch.js";
import { discoverSuites } from "../../src/policy-test/discover.js";
import { loadSuite, SuiteError } from "../../src/policy-test/suite.js";
import { DVP_CRDS } from "../support/paths.js";
import { CHECK, CHECK_POLICIES, runCli, tempTree, vmYaml } from "../check/helpers.js";

const HEADER = `apiVersion: virtguard.io/v1\nkind: PolicyTestSuite\n`;

/** A suite directory using the check test policies and the DVP CRDs, with a VM file beside it. */
function suiteDir(body: string, header = HEADER): string {
  return tempTree({ "virtguard-test.yaml": `${header}policies: ${CHECK_POLICIES}\ncrds: ${DVP_CRDS}\n${body}`, "vm.yaml": vmYaml("web", 4) }, "virtguard-suite-");
}

function verdict(denials: [string, string][], warnings: [string, string][] = []): Verdict {
  return {
    allowed: denials.length === 0,
    denials: denials.map(([policy, message]) => ({ policy, message, action: "Deny" })),
    warnings: warnings.map(([policy, message]) => ({ policy, message, action: "Warn" })),
    audits: [],
    matched: [],
  };
}

test("a suite loads: inline and file resources, merge patches, UPDATE from oldResource, context files, params", () => {
  const dir = suiteDir(`name: demo
context:
  - file: ${join(CHECK, "repo", "classes.yaml")}
params: {maxCores: 100}
cases:
  - name: patched
    resource: {file: vm.yaml, patch: {spec: {cpu: {cores: 8, coreFraction: null}}}}
    expect: allowed
  - name: update
    oldResource: {file: vm.yaml}
    resource: {file: vm.yaml}
    params: {maxCores: 2}
    expect: {result: denied, policy: test-vm-cores, message: at most 2 cores}
  - name: delete
    operation: DELETE
    oldResource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
    expect: allowed
`);
  const suite = loadSuite(join(dir, "virtguard-test.yaml"));
  assert.equal(suite.name, "demo");
  assert.deepEqual(suite.policies, [CHECK_POLICIES]);
  assert.equal(suite.crds, DVP_CRDS);
  const [patched, update, del] = suite.cases;
  assert.deepEqual((patched?.object?.spec as { cpu: unknown }).cpu, { cores: 8 });
  assert.equal(patched?.operation, "CREATE");
  assert.equal(patched?.context.length, 1);
  assert.deepEqual(patched?.params, { maxCores: 100 });
  assert.equal(update?.operation, "UPDATE");
  assert.deepEqual(update?.params, { maxCores: 2 });
  assert.deepEqual(update?.expect, { result: "denied", findings: [{ action: "Deny", policy: "test-vm-cores", message: "at most 2 cores" }] });
  assert.equal(del?.operation, "DELETE");
  assert.equal(del?.object, null);
});

const invalid: [string, string, RegExp, string?][] = [
  ["a wrong kind", "cases: []\n", /virtguard-test\.yaml:2: kind: must be PolicyTestSuite/, "apiVersion: virtguard.io/v1\nkind: Nope\n"],
  ["an unknown field", "cases:\n  - name: a\n    resource: {file: vm.yaml}\n    expected: allowed\n", /virtguard-test\.yaml:8: cases\[0\]\.expected: unknown field/],
  ["an unknown result", "cases:\n  - name: a\n    resource: {file: vm.yaml}\n    expect: rejected\n", /cases\[0\]\.expect\.result: must be one of allowed, warned, denied/],
  ["a policy expected of an allowed case", "cases:\n  - name: a\n    resource: {file: vm.yaml}\n    expect: {result: allowed, policy: x}\n", /an allowed case expects no finding/],
  ["a bad regex", "cases:\n  - name: a\n    resource: {file: vm.yaml}\n    expect: {result: denied, messageRegex: '('}\n", /messageRegex: not a valid regular expression/],
  ["a missing resource file", "cases:\n  - name: a\n    resource: {file: nope.yaml}\n    expect: allowed\n", /cases\[0\]\.resource\.file: .*nope\.yaml: cannot read: ENOENT/],
  ["an UPDATE without oldResource", "cases:\n  - name: a\n    operation: UPDATE\n    resource: {file: vm.yaml}\n    expect: allowed\n", /an UPDATE needs both resource and oldResource/],
  ["duplicate case names", "cases:\n  - {name: a, resource: {file: vm.yaml}, expect: allowed}\n  - {name: a, resource: {file: vm.yaml}, expect: allowed}\n", /"a" is already the name of another case/],
  ["no cases", "cases: []\n", /cases: must be a non-empty list/],
  ["invalid YAML", "cases: [\n", /virtguard-test\.yaml:\d+: invalid YAML/],
];

for (const [what, body, message, header] of invalid) {
  test(`a suite with ${what} is rejected with its file, line and field`, () => {
    const dir = suiteDir(body, header);
    assert.throws(() => loadSuite(join(dir, "virtguard-test.yaml")), (err: unknown) => err instanceof SuiteError && message.test(err.message));
  });
}

test("merge patch: maps merge, null removes, lists and scalars replace; the target is untouched", () => {
  const target = { a: { b: 1, c: [1, 2] }, d: "x" };
  assert.deepEqual(mergePatch(target, { a: { b: null, c: [3] }, e: true }), { a: { c: [3] }, d: "x", e: true });
  assert.deepEqual(target, { a: { b: 1, c: [1, 2] }, d: "x" });
});

test("expectations: the result class, then each expected finding met by a finding of its own", () => {
  assert.equal(resultOf(verdict([])), "allowed");
  assert.equal(resultOf(verdict([], [["p", "w"]])), "warned");
  assert.equal(resultOf(verdict([["p", "d"]], [["p", "w"]])), "denied");
  const two = verdict([["p", "spec.cpu.cores is 300"], ["q", "spec.memory.size is 2Ti"]]);
  assert.deepEqual(mismatches(two, { result: "denied", findings: [{ action: "Deny", policy: "p", messageRegex: /cores is \d+/ }, { action: "Deny", message: "2Ti" }] }), []);
  assert.deepEqual(mismatches(two, { result: "denied", findings: [{ action: "Deny", policy: "p" }, { action: "Deny", policy: "p" }] }), ['expected a denial from p; none found']);
  assert.deepEqual(mismatches(verdict([], [["p", "w"]]), { result: "allowed", findings: [] }), ["expected allowed, got warned"]);
  assert.deepEqual(mismatches(two, { result: "denied", findings: [{ action: "Deny", policy: "p", message: "memory" }] }), ['expected a denial from p containing "memory"; none found']);
});

test("suites are discovered recursively: virtguard-test.yaml and NAME.virtguard-test.yaml", () => {
  const dir = tempTree({ "a/virtguard-test.yaml": "", "b/vm.virtguard-test.yml": "", "c/other.yaml": "", ".hidden/virtguard-test.yaml": "" });
  assert.deepEqual(discoverSuites([dir]).map((f) => f.slice(dir.length + 1)), ["a/virtguard-test.yaml", "b/vm.virtguard-test.yml"]);
});

test("CLI: a passing suite prints a PASS line per case and 'N passed, 0 failed', exit 0", async () => {
  const dir = suiteDir(`name: demo
cases:
  - {name: four cores, resource: {file: vm.yaml}, expect: warned}
  - name: 300 cores
    resource: {file: vm.yaml, patch: {spec: {cpu: {cores: 300}}}}
    expect:
      result: denied
      findings:
        - {policy: test-vm-cores, messageRegex: '^spec\\.cpu\\.cores is 300;'}
        - {action: Warn, policy: test-vm-class, message: roomy does not exist}
`);
  const { code, stdout, stderr } = await runCli(["test", dir]);
  assert.equal(code, 0, stdout + stderr);
  assert.equal(stdout, "PASS  demo › four cores\nPASS  demo › 300 cores\n2 passed, 0 failed\n");
});

test("CLI: a failing case prints FAIL with the reasons and what the policies said, exit 1", async () => {
  const dir = suiteDir(`name: demo
context: [{file: ${join(CHECK, "repo", "classes.yaml")}}]
cases:
  - {name: ok, resource: {file: vm.yaml}, expect: allowed}
  - {name: wrong, resource: {file: vm.yaml, patch: {spec: {cpu: {cores: 300}}}}, expect: {result: denied, policy: test-vm-cores, message: at most 200}}
`);
  const { code, stdout } = await runCli(["test", dir]);
  assert.equal(code, 1);
  assert.equal(
    stdout,
    [
      "PASS  demo › ok",
      "FAIL  demo › wrong",
      '        expected a denial from test-vm-cores containing "at most 200"; none found',
      "        got denial: [test-vm-cores] spec.cpu.cores is 300; a VirtualMachine may have at most 248 cores",
      "1 passed, 1 failed",
      "",
    ].join("\n"),
  );
});

test("CLI: with crds, a schema error denies the case as the API server would, and defaults reach the policies", async () => {
  const dir = suiteDir(`name: schema
context: [{file: ${join(CHECK, "repo", "classes.yaml")}}]
cases:
  - name: a core fraction of 150% is a schema error
    resource: {file: vm.yaml, patch: {spec: {cpu: {coreFraction: 150%}}}}
    expect: {result: denied, policy: schema, message: spec.cpu.coreFraction}
  - name: osType Legacy warns, because enableParavirtualization defaults to true
    resource: {file: vm.yaml, patch: {spec: {osType: Legacy}}}
    expect: {result: warned, policy: test-vm-legacy-paravirt}
`);
  const { code, stdout } = await runCli(["test", dir]);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /\n2 passed, 0 failed\n$/);
});

test("CLI: a broken suite file is reported on stderr and exits 2; the others still run", async () => {
  const root = tempTree({
    "good/virtguard-test.yaml": `${HEADER}name: good\npolicies: ${CHECK_POLICIES}\ncases:\n  - {name: cm, resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}, expect: allowed}\n`,
    "bad/virtguard-test.yaml": `${HEADER}policies: ${CHECK_POLICIES}\ncases:\n  - {name: x, resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}, params: {nosuch: 1}, expect: allowed}\n`,
    "badpolicy/virtguard-test.yaml": `${HEADER}policies: /nonexistent/policies\ncases:\n  - {name: x, resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}, expect: allowed}\n`,
  });
  const { code, stdout, stderr } = await runCli(["test", root]);
  assert.equal(code, 2);
  assert.match(stderr, /^virtguard test: \S*bad\/virtguard-test\.yaml: cases: "x": unknown parameter "nosuch"/m);
  assert.match(stderr, /^virtguard test: \S*badpolicy\/virtguard-test\.yaml: invalid policy: \/nonexistent\/policies: cannot read: ENOENT$/m);
  assert.match(stdout, /^ERROR \S*bad\/virtguard-test\.yaml$/m);
  assert.match(stdout, /^PASS {2}good › cm$/m);
  assert.match(stdout, /\n1 passed, 0 failed\n$/);
});

test("CLI: no suite found, or an unknown flag, is a usage error (exit 2)", async () => {
  const none = await runCli(["test", tempTree({})]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no virtguard-test\.yaml suite found/);
  const flag = await runCli(["test", "--nope"]);
  assert.equal(flag.code, 2);
  const help = await runCli(["test", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Examples:\n {2}virtguard test/);
});
