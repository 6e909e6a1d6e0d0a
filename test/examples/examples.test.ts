// examples/ is what a new user runs first: `virtguard check examples/` must show a denial, a
// warning and passes, with the vendored CRDs applied (no policy fails to evaluate).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../check/helpers.js";
import { REPO_ROOT } from "../support/paths.js";

interface Finding {
  policy: string;
  action: string;
  message: string;
}
interface ReportObject {
  file: string;
  kind: string;
  name: string;
  status: string;
  schema: string;
  findings: Finding[];
}

test("virtguard check examples/ shows a denial, a warning and passes", async () => {
  const r = await runCli(["check", "-o", "json", "examples/"], { cwd: REPO_ROOT });
  assert.equal(r.code, 1, `a denial exits 1: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as { objects: ReportObject[] };
  const byFile = new Map(report.objects.map((o) => [o.file, o]));
  const at = (name: string): ReportObject => {
    const o = byFile.get(join("examples", name));
    assert.ok(o, `${name} was not checked`);
    return o;
  };
  for (const o of report.objects) {
    for (const f of o.findings) assert.doesNotMatch(f.message, /could not be evaluated/, `${o.file}: ${f.message}`);
    if (o.kind !== "AdmissionReview") assert.equal(o.schema, "valid", `${o.file} does not match its CRD`);
  }

  const denied = at("vm-too-many-cores.yaml");
  assert.equal(denied.status, "denied");
  assert.ok(denied.findings.some((f) => f.action === "Deny" && f.policy === "vm-resource-limits" && /at most 248 cores/.test(f.message)));

  const warned = at("vm-generic-class.yaml");
  assert.equal(warned.status, "warned");
  assert.ok(warned.findings.some((f) => f.action === "Warn" && f.policy === "vm-production-guidance" && /generic/.test(f.message)));
  assert.ok(!warned.findings.some((f) => f.action === "Deny"));

  for (const name of ["vm-web.yaml", "class-production.yaml", "moduleconfig-virtualization.yaml"]) {
    const o = at(name);
    assert.equal(o.status, "allowed", `${name}: ${o.findings.map((f) => f.message).join("; ")}`);
    assert.deepEqual(o.findings, []);
  }
});
