import assert from "node:assert/strict";
import { test } from "node:test";
import { CelCompileError, compileExpression } from "../../src/engine/cel/compile.js";
import { CelFault } from "../../src/engine/cel/codegen/values.js";

test("a syntax error is reported at load, with its position", () => {
  assert.throws(() => compileExpression("object.spec.cpu.cores <="), (err: Error) => {
    assert.ok(err instanceof CelCompileError);
    assert.match(err.message, /CEL syntax error: at 1:\d+/);
    return true;
  });
});

test("a misspelt variable is reported at load, not when a request arrives", () => {
  assert.throws(() => compileExpression("objct.spec.cpu.cores <= 248"), /undeclared reference to "objct"/);
});

test("an unknown function is reported at load", () => {
  assert.throws(() => compileExpression("quantityy('1Gi')"), /undeclared function "quantityy"/);
});

test("variables.NAME must be declared before use", () => {
  assert.throws(() => compileExpression("variables.cores > 1", { variables: new Set(["memory"]) }), /unknown variable "variables.cores" \(declared before this point: memory\)/);
  assert.equal(compileExpression("variables.cores > 1", { variables: new Set(["cores"]) }).evaluate({ variables: { get: () => 2, all: () => new Map([["cores", 2]]) } }), true);
});

test("comprehension variables are in scope only inside the macro", () => {
  assert.equal(compileExpression("[1, 2].all(x, x > 0)").evaluate({}), true);
  assert.throws(() => compileExpression("[1, 2].all(x, x > 0) && x > 0"), /undeclared reference to "x"/);
});

test("a runtime failure is returned as an Error, never thrown", () => {
  const result = compileExpression("object.spec.missing.field == 1").evaluate({ object: { spec: {} } });
  assert.ok(result instanceof Error);
  assert.match(result.message, /missing/);
});

test("CRD rules compile with self as their root", () => {
  const rule = compileExpression("self.max > self.min", { roots: ["self"] });
  assert.equal(rule.evaluate({ self: { min: 1, max: 4 } }), true);
  assert.throws(() => compileExpression("object.x", { roots: ["self"] }), /undeclared reference to "object"/);
});

test("equality of lists and maps nested 10,000 levels deep: answered, not a stack overflow", () => {
  // Built without recursion, as a request decoded by JSON.parse would be.
  const deep = (leaf: unknown): unknown => {
    let v = leaf;
    for (let i = 0; i < 10_000; i++) v = i % 2 === 0 ? { a: v, n: i } : [v, i];
    return v;
  };
  const expr = compileExpression("object.spec == oldObject.spec");
  const judge = (a: unknown, b: unknown) => expr.evaluate({ object: { spec: a }, oldObject: { spec: b }, request: {}, params: null, variables: { get: () => null } } as never);
  assert.equal(judge(deep("x"), deep("x")), true);
  assert.equal(judge(deep("x"), deep("y")), false);
  assert.equal(judge(deep(1), deep(1.0)), true);
  assert.equal(judge(deep([1, 2]), deep([1, 2, 3])), false);
});

test("an expression reads each variable from the scope once per evaluation, and a failing one is an error only where CEL reaches it", () => {
  const expr = compileExpression("variables.cores > 1 && variables.cores < 10 && variables.cores != 3", { variables: new Set(["cores"]) });
  const reads: string[] = [];
  const scope = (value: () => number) => ({ get: (name: string) => (reads.push(name), value()), all: () => new Map() });
  assert.equal(expr.evaluate({ variables: scope(() => 4) }), true);
  assert.equal(expr.evaluate({ variables: scope(() => 5) }), true);
  assert.deepEqual(reads, ["cores", "cores"], "one read per evaluation, not one per mention");
  const failing = { get: (): number => { throw new CelFault("no such cores"); }, all: () => new Map() };
  // `||` absorbs the error of its left side when the right side is true, as CEL says.
  const absorbed = compileExpression("(variables.cores > 1 || true) && (variables.cores > 2 || true)", { variables: new Set(["cores"]) });
  assert.equal(absorbed.evaluate({ variables: failing }), true);
  const surfaced = compileExpression("variables.cores > 1 || variables.cores > 2", { variables: new Set(["cores"]) });
  assert.match(String((surfaced.evaluate({ variables: failing }) as Error).message), /no such cores/);
});
