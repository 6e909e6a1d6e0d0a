import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../check/helpers.js";
import { FIXTURES, REPO_ROOT } from "../support/paths.js";

// DVP's own validator unit tests, mirrored case by case as virtguard suites
// (test/fixtures/dvp-validators/): the same inputs run through the shipped policy set, with the CRD
// schemas, through the real CLI, and each case asserts the verdict DVP gives. A case whose name
// says "DIFFERS (why)" asserts virtguard's verdict where it knowingly differs; docs/policies-dvp.md
// explains each one and gives the counts checked below.

const SUITES = join(FIXTURES, "dvp-validators");

/** Where each mirrored file lives in deckhouse/virtualization (commit cf3a9e6). */
const SOURCES: Record<string, string> = {
  "cpu_count_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "core_fraction_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "networks_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "ipam_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "meta_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "block_device_refs_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "block_device_refs_validator.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "legacy_os_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "affinity_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "affinity_validator.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "first_block_device_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "first_block_device_validator.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "usb_devices_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "usb_devices_validator.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "gpu_devices_validator_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/validators/",
  "featuregate.go": "images/virtualization-artifact/pkg/featuregates/",
  "size_policy_service_test.go": "images/virtualization-artifact/pkg/controller/service/",
  "default_core_fraction_validator_test.go": "images/virtualization-artifact/pkg/controller/vmclass/internal/validators/",
  "validators_suite_test.go": "images/virtualization-artifact/pkg/controller/vmclass/internal/validators/",
  "sizing_policies_validator.go": "images/virtualization-artifact/pkg/controller/vmclass/internal/validators/",
  "single_default_class_validator.go": "images/virtualization-artifact/pkg/controller/vmclass/internal/validators/",
  "core_fraction_test.go": "images/virtualization-artifact/pkg/controller/vm/internal/defaulter/",
  "validators_test.go": "images/virtualization-artifact/pkg/controller/moduleconfig/",
  "featuregates_validator_test.go": "images/virtualization-artifact/pkg/controller/moduleconfig/",
  "livemigration_validator_test.go": "images/virtualization-artifact/pkg/controller/moduleconfig/",
  "hook_test.go": "images/hooks/pkg/hooks/validate-module-config/",
  "vmip_webhook_test.go": "images/virtualization-artifact/pkg/controller/vmip/",
  "vmip_webhook.go": "images/virtualization-artifact/pkg/controller/vmip/",
  "vmpool_webhook_test.go": "images/virtualization-artifact/pkg/controller/vmpool/",
  "vmpool_webhook.go": "images/virtualization-artifact/pkg/controller/vmpool/",
};

interface Tally {
  cases: number;
  differ: number;
}

const run = runCli(["test", SUITES]);

/** Case names of the PASS/FAIL lines, "SUITE › NAME" → NAME. */
function caseNames(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => /^(PASS|FAIL) {2}/.test(l))
    .map((l) => l.slice(l.indexOf(" › ") + 3));
}

function tallies(names: string[]): Map<string, Tally> {
  const by = new Map<string, Tally>();
  for (const name of names) {
    const m = /^(\S+\.go) (DIFFERS \(.+?\): )?\S/.exec(name);
    assert.ok(m, `case "${name}" does not start with its DVP source file`);
    const file = m[1] as string;
    assert.ok(file in SOURCES, `case "${name}" names ${file}, which is not among the mirrored sources`);
    const t = by.get(file) ?? { cases: 0, differ: 0 };
    t.cases++;
    if (m[2]) t.differ++;
    by.set(file, t);
  }
  return by;
}

test("DVP's validator test cases get DVP's verdict from the shipped policies (virtguard test test/fixtures/dvp-validators)", async () => {
  const { code, stdout, stderr } = await run;
  const summary = stdout.trimEnd().split("\n").at(-1) ?? "";
  assert.match(summary, /^\d+ passed, 0 failed$/, `${stdout}\n${stderr}`);
  assert.equal(code, 0, stderr);
  assert.ok(Number(summary.split(" ")[0]) >= 240, summary);
});

test("every mirrored case names its DVP source file, and every source is mirrored", async () => {
  const by = tallies(caseNames((await run).stdout));
  assert.deepEqual([...by.keys()].sort(), Object.keys(SOURCES).sort());
});

test("docs/policies-dvp.md gives the mirrored counts as they are", async () => {
  const by = tallies(caseNames((await run).stdout));
  const doc = readFileSync(join(REPO_ROOT, "docs", "policies-dvp.md"), "utf8");
  let cases = 0;
  let differ = 0;
  for (const [file, t] of by) {
    const row = `| \`${SOURCES[file]}${file}\` |`;
    const line = doc.split("\n").find((l) => l.startsWith(row));
    assert.ok(line, `docs/policies-dvp.md lacks a row for ${file}`);
    assert.ok(line.endsWith(`| ${t.cases} | ${t.cases - t.differ} | ${t.differ} |`), `${line}\nexpected ${t.cases} cases, ${t.differ} differing`);
    cases += t.cases;
    differ += t.differ;
  }
  assert.ok(doc.includes(`| **total** | | ${cases} | ${cases - differ} | ${differ} |`), `docs/policies-dvp.md lacks the total row: ${cases} cases, ${differ} differing`);
});
