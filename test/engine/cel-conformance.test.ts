import assert from "node:assert/strict";
import { test } from "node:test";
import { conformance } from "./cel-conformance.js";

test("CEL conformance: the compiler passes every test the interpreter passes (tests without protobuf messages)", (t) => {
  const files = conformance();
  const rows = files.map((f) => `| ${f.file} | ${f.tests} | ${f.messages} | ${f.interpreter} | ${f.compiler} |`);
  for (const row of ["| file | tests | need messages | interpreter | compiler |", "|---|---|---|---|---|", ...rows]) t.diagnostic(row);
  assert.deepEqual(
    files.flatMap((f) => f.regressions.map((r) => `${f.file}: ${r}`)),
    [],
  );
  const total = (k: "interpreter" | "compiler") => files.reduce((n, f) => n + f[k], 0);
  // Not vacuous: most of the suite runs through both engines.
  assert.ok(total("interpreter") > 1000, `interpreter passed ${total("interpreter")}`);
  assert.ok(total("compiler") >= total("interpreter"));
});
