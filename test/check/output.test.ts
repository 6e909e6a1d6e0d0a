import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Ajv04 from "ajv-draft-04";
import addFormats from "ajv-formats";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { CHECK, CHECK_POLICIES, REPO_ROOT, runCli, tempTree } from "./helpers.js";

// The SARIF 2.1.0 JSON schema (sarif-2.1.0-rtm.5, the OASIS standard's final schema, JSON Schema
// draft-04), copied from the npm package @microsoft/jest-sarif 1.0.0-beta.0 (MIT),
// lib/schemas/sarif-2.1.0-rtm.5.json.
const SARIF_SCHEMA = JSON.parse(readFileSync(join(REPO_ROOT, "test", "check", "sarif-schema-2.1.0.json"), "utf8")) as object;

const REPO = join(CHECK, "repo");
// Relative paths, as CI runs it from the repository root: reports and SARIF URIs stay relative.
const REPO_REL = "test/fixtures/check/repo";
const LEGACY_REL = "test/fixtures/check/legacy-vm.yaml";
const BASE_ARGS = ["check", "--policies", CHECK_POLICIES];

interface JsonReport {
  apiVersion: string;
  kind: string;
  virtguard: string;
  summary: Record<string, number>;
  files: string[];
  objects: {
    file: string;
    line: number;
    apiVersion: string;
    kind: string;
    namespace: string | null;
    name: string;
    operation: string;
    status: string;
    schema: string;
    policies: string[];
    findings: { action: string; policy: string; message: string; reason: string | null; path: string | null; file: string; line: number }[];
  }[];
}

test("text: one line per finding, FILE:LINE  Kind/namespace/name  DENY|WARN  [policy] message, then the summary", async () => {
  const { code, stdout } = await runCli([...BASE_ARGS, "-q", REPO_REL, LEGACY_REL]);
  assert.equal(code, 1);
  assert.equal(
    stdout,
    [
      "test/fixtures/check/repo/vms/web.yaml:26  VirtualMachine/tenant-a/big  DENY  [test-vm-cores] spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores",
      "test/fixtures/check/legacy-vm.yaml:7  VirtualMachine/retro/dos  WARN  [test-vm-legacy-paravirt] spec.enableParavirtualization is true (the default) with osType Legacy; set it to false unless the guest has virtio drivers",
      "7 objects in 5 files: 1 denied, 1 warned, 2 allowed, 3 skipped (no policy matches); 1 denial, 1 warning",
      "",
    ].join("\n"),
  );
});

test("json: the documented shape, every key present, progress kept on stderr", async () => {
  const { code, stdout, stderr } = await runCli([...BASE_ARGS, "-o", "json", REPO_REL, LEGACY_REL]);
  assert.equal(code, 1);
  const report = JSON.parse(stdout) as JsonReport;
  assert.deepEqual(Object.keys(report), ["apiVersion", "kind", "virtguard", "summary", "files", "objects"]);
  assert.equal(report.apiVersion, "virtguard.io/v1");
  assert.equal(report.kind, "CheckReport");
  assert.deepEqual(report.summary, { files: 5, objects: 7, allowed: 2, warned: 1, denied: 1, skipped: 3, denials: 1, warnings: 1, audits: 0 });
  assert.equal(report.files.length, 5);
  const big = report.objects.find((o) => o.name === "big");
  assert.deepEqual(big, {
    file: "test/fixtures/check/repo/vms/web.yaml",
    line: 18,
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    namespace: "tenant-a",
    name: "big",
    operation: "CREATE",
    status: "denied",
    schema: "valid",
    policies: ["test-vm-class", "test-vm-cores", "test-vm-legacy-paravirt"],
    findings: [
      {
        action: "Deny",
        policy: "test-vm-cores",
        message: "spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores",
        reason: "Invalid",
        path: null,
        file: "test/fixtures/check/repo/vms/web.yaml",
        line: 26,
      },
    ],
  });
  const mc = report.objects.find((o) => o.kind === "ModuleConfig");
  assert.equal(mc?.namespace, null);
  assert.equal(mc?.status, "skipped");
  assert.match(stderr, /^virtguard check: read 7 objects from 5 files$/m);
  assert.match(stderr, /^virtguard check: 7 objects in 5 files: 1 denied/m);
});

test("junit: valid XML, a testcase per object and policy, a failure per denial, skipped objects, warnings as output", async () => {
  const { code, stdout } = await runCli([...BASE_ARGS, "-q", "-o", "junit", REPO_REL, LEGACY_REL]);
  assert.equal(code, 1);
  assert.equal(XMLValidator.validate(stdout), true);
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => ["testsuite", "testcase", "failure"].includes(name) }).parse(stdout) as {
    testsuites: {
      name: string;
      tests: string;
      failures: string;
      skipped: string;
      testsuite: { name: string; tests: string; testcase: { name: string; classname: string; file: string; line: string; failure?: { message: string; type: string; "#text": string }[]; skipped?: unknown; "system-out"?: string }[] }[];
    };
  };
  const suites = xml.testsuites;
  assert.equal(suites.name, "virtguard check");
  assert.deepEqual(suites.testsuite.map((s) => s.name), [
    "test/fixtures/check/repo/classes.yaml",
    "test/fixtures/check/repo/moduleconfig.json",
    "test/fixtures/check/repo/vms/team-b/db.yml",
    "test/fixtures/check/repo/vms/web.yaml",
    "test/fixtures/check/legacy-vm.yaml",
  ]);
  const cases = suites.testsuite.flatMap((s) => s.testcase);
  // 4 VMs x (schema + 3 policies) + class (schema + skipped) + ModuleConfig (schema + skipped) + ConfigMap (skipped)
  assert.equal(cases.length, 4 * 4 + 2 + 2 + 1);
  assert.equal(suites.tests, String(cases.length));
  const failing = cases.filter((c) => c.failure);
  assert.deepEqual(failing.map((c) => `${c.classname} ${c.name}`), ["VirtualMachine/tenant-a/big test-vm-cores"]);
  assert.equal(failing[0]?.failure?.[0]?.type, "Deny");
  assert.equal(failing[0]?.failure?.[0]?.message, "[test-vm-cores] spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores");
  assert.equal(failing[0]?.line, "18");
  assert.equal(suites.failures, "1");
  assert.deepEqual(cases.filter((c) => c.skipped !== undefined).map((c) => c.classname), ["VirtualMachineClass/roomy", "ModuleConfig/virtualization", "ConfigMap/tenant-a/web-settings"]);
  assert.equal(suites.skipped, "3");
  const warned = cases.find((c) => c.classname === "VirtualMachine/retro/dos" && c.name === "test-vm-legacy-paravirt");
  assert.match(warned?.["system-out"] ?? "", /WARN {2}\[test-vm-legacy-paravirt\] spec\.enableParavirtualization is true/);
  assert.equal(warned?.failure, undefined);

  const strict = await runCli([...BASE_ARGS, "-q", "-o", "junit", "--warnings-as-errors", LEGACY_REL]);
  assert.equal(strict.code, 1);
  assert.match(strict.stdout, /<failure message="\[test-vm-legacy-paravirt\] [^"]*" type="Warn">/);
});

test("junit: markup in names and messages is escaped", async () => {
  const dir = tempTree({ "odd.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a<b>&\"c'\n  namespace: ns\n" });
  const { stdout } = await runCli([...BASE_ARGS, "-q", "-o", "junit", dir]);
  assert.equal(XMLValidator.validate(stdout), true);
  assert.match(stdout, /classname="ConfigMap\/ns\/a&lt;b&gt;&amp;&quot;c&apos;"/);
});

test("sarif: valid SARIF 2.1.0 with a rule per policy and file and line locations", async () => {
  const { code, stdout } = await runCli([...BASE_ARGS, "-q", "-o", "sarif", REPO_REL, LEGACY_REL]);
  assert.equal(code, 1);
  const log = JSON.parse(stdout) as {
    version: string;
    runs: {
      tool: { driver: { name: string; rules: { id: string }[] } };
      results: { ruleId: string; ruleIndex: number; level: string; message: { text: string }; locations: { physicalLocation: { artifactLocation: { uri: string; uriBaseId: string }; region: { startLine: number } } }[] }[];
    }[];
  };
  const ajv = new Ajv04.default({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats.default(ajv);
  const validate = ajv.compile(SARIF_SCHEMA);
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  assert.equal(log.version, "2.1.0");
  const run = log.runs[0];
  assert.equal(run?.tool.driver.name, "virtguard");
  assert.deepEqual(run?.tool.driver.rules.map((r) => r.id), ["schema", "test-keep-leased-cidrs", "test-protected-delete", "test-vm-class", "test-vm-cores", "test-vm-legacy-paravirt"]);
  assert.deepEqual(
    run?.results.map((r) => [r.ruleId, run.tool.driver.rules[r.ruleIndex]?.id, r.level, r.locations[0]?.physicalLocation.artifactLocation.uri, r.locations[0]?.physicalLocation.region.startLine]),
    [
      ["test-vm-cores", "test-vm-cores", "error", "test/fixtures/check/repo/vms/web.yaml", 26],
      ["test-vm-legacy-paravirt", "test-vm-legacy-paravirt", "warning", "test/fixtures/check/legacy-vm.yaml", 7],
    ],
  );
  assert.equal(run?.results[0]?.locations[0]?.physicalLocation.artifactLocation.uriBaseId, "%SRCROOT%");
  assert.equal(run?.results[0]?.message.text, "VirtualMachine/tenant-a/big: spec.cpu.cores is 249; a VirtualMachine may have at most 248 cores");
});

test("sarif: schema findings, stdin and paths outside the working directory stay valid SARIF", async () => {
  const outside = tempTree({ "bad.yaml": "apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualMachine\nmetadata: {name: x, namespace: y}\nspec: {}\n" });
  const { stdout } = await runCli([...BASE_ARGS, "-q", "-o", "sarif", outside, "-"], { input: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n" });
  const ajv = new Ajv04.default({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats.default(ajv);
  const validate = ajv.compile(SARIF_SCHEMA);
  const log = JSON.parse(stdout) as { runs: { results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] };
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 2));
  const results = log.runs[0]?.results ?? [];
  assert.ok(results.length > 0 && results.every((r) => r.ruleId === "schema"));
  assert.match(results[0]?.locations[0]?.physicalLocation.artifactLocation.uri ?? "", /^file:\/\/\/.*\/bad\.yaml$/);
});

test("--output-file: the report goes to the file, stdout stays empty, the summary goes to stderr", async () => {
  const dir = tempTree({});
  const out = join(dir, "report.sarif");
  const { code, stdout, stderr } = await runCli([...BASE_ARGS, "-o", "sarif", "--output-file", out, REPO_REL]);
  assert.equal(code, 1, stderr);
  assert.equal(stdout, "", `stdout must stay empty; stderr: ${stderr}`);
  assert.equal((JSON.parse(readFileSync(out, "utf8")) as { version: string }).version, "2.1.0");
  assert.match(stderr, /virtguard check: 6 objects in 4 files: 1 denied/, stderr);
  const bad = await runCli([...BASE_ARGS, "--output-file", join(dir, "no", "such", "dir", "r.txt"), REPO_REL]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /cannot write the report: ENOENT/);
});

test("stdout is never polluted: progress, notes and profile timings go to stderr only; -q silences progress", async () => {
  for (const format of ["json", "sarif"]) {
    const { stdout, stderr } = await runCli([...BASE_ARGS, "-o", format, REPO_REL, join(REPO, "classes.yaml"), "--against", join(CHECK, "base")], {
      env: { VIRTGUARD_PROFILE: "1" },
    });
    assert.doesNotThrow(() => JSON.parse(stdout), `${format} output is pure JSON`);
    assert.match(stderr, /^virtguard check: \d+ policies from /m);
    assert.match(stderr, /^profile: total \d+ms .*parse \d+ms \d+%.*evaluate \d+ms/m);
  }
  const junit = await runCli([...BASE_ARGS, "-o", "junit", REPO_REL], { env: { VIRTGUARD_PROFILE: "1" } });
  assert.equal(XMLValidator.validate(junit.stdout), true);
  assert.ok(junit.stdout.startsWith("<?xml"));
  const quiet = await runCli([...BASE_ARGS, "-q", "-o", "json", REPO_REL]);
  assert.equal(quiet.stderr, "");
});

test("progress on stderr reads as sentences in the singular too: 1 policy, 1 object, 1 file", async () => {
  const { code, stderr } = await runCli(["check", "--policies", join(REPO_ROOT, "bench", "peers", "rules", "virtguard"), join(REPO_ROOT, "examples", "vm-web.yaml")]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^virtguard check: 1 policy from /m);
  assert.match(stderr, /^virtguard check: read 1 object from 1 file$/m);
});
