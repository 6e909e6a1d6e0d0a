import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";

/** Every `expression` and `messageExpression` of a policy document, with its JSON path. */
function celStrings(value: unknown, path: string, out: { path: string; cel: string }[]): void {
  if (Array.isArray(value)) value.forEach((v, i) => celStrings(v, `${path}[${i}]`, out));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" && (k === "expression" || k === "messageExpression")) out.push({ path: `${path}.${k}`, cel: v });
      else celStrings(v, `${path}.${k}`, out);
    }
  }
}

test("the shipped policies read like the rules they state: no CEL string over 400 characters (issue 11)", () => {
  const files = readdirSync(SHIPPED_POLICIES).filter((f) => f.endsWith(".json") && f !== "policy.schema.json");
  assert.ok(files.length >= 20, `expected the shipped set, found ${files.length} files`);
  const long: string[] = [];
  let count = 0;
  for (const f of files) {
    const found: { path: string; cel: string }[] = [];
    celStrings(JSON.parse(readFileSync(join(SHIPPED_POLICIES, f), "utf8")), "", found);
    count += found.length;
    for (const { path, cel } of found) if (cel.length > 400) long.push(`${f}: ${path} (${cel.length} characters)`);
  }
  assert.ok(count > 300, `expected hundreds of expressions, found ${count}`);
  assert.deepEqual(long, [], "name the parts as variables instead");
});
