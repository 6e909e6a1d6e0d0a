import assert from "node:assert/strict";
import { test } from "node:test";
import { runCli } from "./check/helpers.js";

// The shipped DVP policies' suites (policies/tests/) are their executable documentation: they run,
// green, in every `npm test`.
test("virtguard test policies/tests: every shipped suite passes", async () => {
  const { code, stdout, stderr } = await runCli(["test", "policies/tests"]);
  const lines = stdout.trimEnd().split("\n");
  const summary = lines.at(-1) ?? "";
  assert.match(summary, /^\d+ passed, 0 failed$/, `${stdout}\n${stderr}`);
  assert.ok(Number(summary.split(" ")[0]) > 0, "the suites hold cases");
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.ok(lines.slice(0, -1).every((l) => l.startsWith("PASS  ")), stdout);
});
