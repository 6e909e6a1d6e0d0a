import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildCacheFile, precompiledExpressions } from "../../src/policy-files/cel-cache.js";
import { compileExpression } from "../../src/engine/cel/compile.js";
import { loadPolicySet } from "../../src/engine/index.js";
import { readPolicySources, SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";

const dir = mkdtempSync(join(tmpdir(), "virtguard-celcache-"));

test("the build step has cached every expression of the shipped policies", () => {
  const seen = new Set<string>();
  loadPolicySet(readPolicySources(SHIPPED_POLICIES), { parsed: { get: (s) => (seen.add(s), undefined) } });
  const cache = precompiledExpressions();
  const missing = [...seen].filter((s) => cache.get(s) === undefined);
  assert.deepEqual(missing, [], "run `npm run build` to refresh dist/src/policy-files/cel-cache.json");
});

test("a cached tree evaluates exactly like a freshly parsed one, and is a fresh copy each time", () => {
  const source = "object.spec.cpu.cores % 8 == 0 && quantity(object.spec.memory.size).isLessThan(quantity('2Gi'))";
  const file = join(dir, "cache.json");
  writeFileSync(file, buildCacheFile([source]));
  const cache = precompiledExpressions(file);
  assert.equal(cache.size, 1);
  assert.notEqual(cache.get(source), cache.get(source), "compilation rewrites the tree: each get must decode anew");
  const object = { spec: { cpu: { cores: 16 }, memory: { size: "1Gi" } } };
  assert.equal(compileExpression(source, { parsed: cache }).evaluate({ object }), true);
  assert.equal(compileExpression(source).evaluate({ object }), true);
});

test("an edited expression misses the cache and is parsed; a cache from another parser version is ignored", () => {
  const file = join(dir, "stale.json");
  writeFileSync(file, JSON.stringify({ parser: "@bufbuild/cel@0.0.0", entries: { "1 == 1": "AAAA" } }));
  assert.equal(precompiledExpressions(file).size, 0);
  writeFileSync(join(dir, "broken.json"), "{not json");
  assert.equal(precompiledExpressions(join(dir, "broken.json")).size, 0);
  assert.equal(compileExpression("2 == 2", { parsed: precompiledExpressions(file) }).evaluate({}), true);
});
