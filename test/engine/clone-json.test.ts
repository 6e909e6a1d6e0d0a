import assert from "node:assert/strict";
import { test } from "node:test";
import { cloneJson, type JsonObject, type JsonValue } from "../../src/engine/index.js";

function nested(depth: number): JsonObject {
  const root: JsonObject = {};
  let at = root;
  for (let i = 0; i < depth; i++) {
    const next: JsonObject = {};
    at.a = [next, i];
    at = next;
  }
  at.leaf = "x";
  return root;
}

function depthOf(value: JsonValue): number {
  let depth = 0;
  for (let at: JsonValue | undefined = value; at && typeof at === "object" && !Array.isArray(at) && Array.isArray(at.a); at = at.a[0]) depth++;
  return depth;
}

test("a value nested 20,000 levels (beyond structuredClone's stack) is copied whole, not shared", () => {
  const deep = nested(20000);
  assert.throws(() => structuredClone(deep), RangeError, "the case this guards against");
  const copy = cloneJson(deep);
  assert.notEqual(copy, deep);
  assert.equal(depthOf(copy), 20000);
  (copy.a as JsonValue[])[1] = 99;
  assert.equal((deep.a as JsonValue[])[1], 0);
});

test("a deep copy keeps a JSON '__proto__' key as data and never changes the prototype", () => {
  const parsed = JSON.parse(`{"spec":{"__proto__":{"polluted":true},"list":[1,"a",null,{"b":false}]},"deep":${"[".repeat(15000)}${"]".repeat(15000)}}`) as JsonObject;
  const copy = cloneJson(parsed);
  const spec = copy.spec as JsonObject;
  assert.equal(Object.getPrototypeOf(spec), Object.prototype);
  assert.deepEqual(Object.keys(spec), ["__proto__", "list"]);
  assert.deepEqual(Object.getOwnPropertyDescriptor(spec, "__proto__")?.value, { polluted: true });
  assert.equal((spec as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(spec.list, [1, "a", null, { b: false }]);
});

test("ordinary values copy as structuredClone copies them", () => {
  const vm = { apiVersion: "v1", kind: "X", metadata: { name: "a", labels: { k: "v" } }, spec: { n: 1.5, list: [true, null, "s"] } };
  assert.deepEqual(cloneJson(vm), structuredClone(vm));
});
