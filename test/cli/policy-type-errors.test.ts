import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startServer } from "../../src/admission/server.js";
import { createLogger } from "../../src/admission/logger.js";
import type { JsonObject } from "../../src/engine/index.js";
import { runCli } from "../check/helpers.js";
import { policyDoc } from "../support/policy-doc.js";
import { LogCapture, startTestServer, writePolicyDir } from "../server/helpers.js";
import { fixture } from "../support/fixtures.js";
import { admissionReview } from "../support/review.js";

// A policy whose validation returns an int loads nowhere: every command that loads policies exits 2
// with one line naming the file and the JSON path, and serve keeps its last good set on reload.
const dir = mkdtempSync(join(tmpdir(), "virtguard-typecheck-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const INT_VALIDATION = policyDoc("counts-cores", { validations: [{ expression: "object.spec.cpu.cores + 1", message: "m", action: "Deny" }] });
const EXPECTED = /counts-cores\.json: spec\.validations\[0\]\.expression: must evaluate to bool, but "object\.spec\.cpu\.cores \+ 1" has type int/;

function policyDir(name: string, doc: JsonObject): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "counts-cores.json"), JSON.stringify(doc, null, 2));
  return path;
}

function assertOneLine(run: { code: number | null; stdout: string; stderr: string }): void {
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.stdout, "");
  assert.match(run.stderr, EXPECTED);
  assert.equal(run.stderr.trimEnd().split("\n").length, 1, run.stderr);
}

describe("a validation that returns an int is a load error", () => {
  const policies = policyDir("int", INT_VALIDATION);
  const review = join(dir, "review.json");
  writeFileSync(review, JSON.stringify(admissionReview({ object: fixture("vm/vm-basic.yaml") })));

  test("virtguard review --policies DIR exits 2 with one line naming the file and the path", async () => {
    assertOneLine(await runCli(["review", "--policies", policies, review]));
  });

  test("virtguard check exits 2 the same way", async () => {
    const manifest = join(dir, "vm.yaml");
    writeFileSync(manifest, JSON.stringify(fixture("vm/vm-basic.yaml")));
    const run = await runCli(["check", "--policies", policies, manifest]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, EXPECTED);
  });

  test("virtguard test exits 2 the same way", async () => {
    const suite = join(dir, "suite.virtguard-test.yaml");
    writeFileSync(suite, `apiVersion: virtguard.io/v1\nkind: PolicyTestSuite\nname: typed\npolicies: ${policies}\ncases:\n  - name: any\n    resource: {file: vm.yaml}\n    expect: allowed\n`);
    writeFileSync(join(dir, "vm.yaml"), JSON.stringify(fixture("vm/vm-basic.yaml")));
    const run = await runCli(["test", suite]);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, EXPECTED);
  });

  test("virtguard serve does not start on it", async () => {
    await assert.rejects(
      startServer({ port: 0, address: "127.0.0.1", tls: { dev: true, caFile: join(dir, "ca.crt") }, policiesDir: policies, logger: createLogger("error", new LogCapture()), defaultMetrics: false, reloadIntervalMs: 0 }),
      EXPECTED,
    );
  });

  test("a reload that brings it in is rejected whole: the last good set keeps serving", async () => {
    const s = await startTestServer();
    try {
      const served = join(s.dir, "policies");
      const good = s.running.policies.current;
      writeFileSync(join(served, "counts-cores.json"), JSON.stringify(INT_VALIDATION));
      const outcome = await s.running.policies.reload();
      assert.equal(outcome.result, "rejected", JSON.stringify(outcome));
      assert.equal(s.running.policies.current, good);
      writePolicyDir(served);
    } finally {
      await s.close();
    }
  });
});
