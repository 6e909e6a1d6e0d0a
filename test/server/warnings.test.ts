import assert from "node:assert/strict";
import { test } from "node:test";
import { renderWarnings } from "../../src/admission/review.js";
import type { Finding } from "../../src/engine/index.js";

test("warnings past the API server's 4 KiB budget end in one line counting the rest", () => {
  const warnings: Finding[] = Array.from({ length: 40 }, (_, i) => ({ policy: `p${i}`, message: `warning number ${i} `.padEnd(200, "."), action: "Warn" }));
  const out = renderWarnings(warnings);
  const kept = out.length - 1;
  assert.ok(kept > 0 && kept < 40, String(kept));
  assert.equal(out.at(-1), `[virtguard] ${40 - kept} more warnings omitted`);
  assert.ok(out.slice(0, -1).join("").length <= 4096);
  assert.deepEqual(renderWarnings(warnings.slice(0, 2)).length, 2);
});
