import assert from "node:assert/strict";
import { test } from "node:test";
import { compileExpression } from "../../src/engine/cel/compile.js";
import type { JsonValue } from "../../src/engine/index.js";
import { canonical } from "../support/cel-values.js";

/*
 * Randomized differential test: seeded random expressions over random JSON objects, evaluated by
 * the compiler and by @bufbuild/cel's interpreter, must give the same value or both an error.
 * The grammar covers what policies write: field access and has(), arithmetic at the int64 edges,
 * mixed int/double, equality and ordering across types, logic with errors on either side, the
 * macros, string functions and the Kubernetes libraries.
 */

const SEED = 20261203;
const CASES = 3000;

/** mulberry32: small, fast, good enough to spread cases. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rnd = random(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const chance = (p: number) => rnd() < p;

const KEYS = ["a", "b", "c", "items", "name"] as const;
const SCALARS: JsonValue[] = [0, 1, -1, 7, 2.5, -0.5, 9007199254740991, 1e300, "", "abc", "10.1.0.0/16", "2Gi", "500m", "ü", true, false, null];

function json(depth: number): JsonValue {
  if (depth <= 0 || chance(0.4)) return pick(SCALARS);
  if (chance(0.35)) return Array.from({ length: Math.floor(rnd() * 4) }, () => json(depth - 1));
  const o: Record<string, JsonValue> = {};
  for (const k of KEYS) if (chance(0.5)) o[k] = json(depth - 1);
  return o;
}

const LITERALS = ["0", "1", "-3", "7", "2.5", "1.0", "0.0", "-0.5", "9223372036854775807", "-9223372036854775808", "1u", "'abc'", "''", "'b'", "'10.1.2.0/24'", "'1Gi'", "true", "false", "null", "[]", "[1, 2, 3]", "['a', 'b']", "{'a': 1}", "{}"];
const PATHS = ["object", "object.a", "object.b", "object.a.b", "object.items", "object.name", "object.c.a", "object.items[0]", "object['a']"];

function list(depth: number, vars: string[]): string {
  return pick([() => "object.items", () => "[1, 2.5, 'x', null]", () => "[3, 1, 2]", () => `[${expr(depth - 1, vars)}, ${expr(depth - 1, vars)}]`, () => "object.a"])();
}

function expr(depth: number, vars: string[]): string {
  if (depth <= 0 || chance(0.25)) {
    if (vars.length && chance(0.5)) return pick(vars);
    return chance(0.5) ? pick(LITERALS) : pick(PATHS);
  }
  const d = depth - 1;
  const x = () => `(${expr(d, vars)})`;
  const forms: (() => string)[] = [
    () => `${x()} ${pick(["+", "-", "*", "/", "%"])} ${x()}`,
    () => `${x()} ${pick(["==", "!=", "<", "<=", ">", ">="])} ${x()}`,
    () => `${x()} ${pick(["&&", "||"])} ${x()}`,
    () => `${x()} ? ${x()} : ${x()}`,
    () => `!${x()}`,
    () => `-${x()}`,
    () => `${x()} in ${list(d, vars)}`,
    () => `has(${pick(PATHS.filter((p) => p.includes(".") && !p.includes("[")))})`,
    () => `size(${x()})`,
    () => `${pick(["string", "int", "double", "type"])}(${x()})`,
    () => `type(${x()}) == ${pick(["int", "double", "string", "list", "map", "bool", "null_type", "uint"])}`,
    () => `${x()}.${pick(["contains", "startsWith", "endsWith", "matches"])}(${pick(["'a'", "'^[a-z]+$'", x()])})`,
    () => `${x()}.${pick(["substring(1)", "substring(0, 2)", "split('b')", "upperAscii()", "lowerAscii()", "replace('b', 'xy')", "indexOf('b')", "lastIndexOf('b')"])}`,
    () => `${list(d, vars)}.join(${pick(["", "', '"])})`,
    () => `int(${pick(["'12'", "'-7'", "'x'", "' 3'", "'9223372036854775808'", x()])})`,
    () => `quantityValue(${x()})`,
    () => `isQuantity(${x()}) ? quantity(${x()}).isGreaterThan(quantity('1Gi')) : false`,
    () => `isCIDR(${x()}) && cidr(${x()}).containsIP('10.1.2.3')`,
    () => `${list(d, vars)}.${pick(["all", "exists", "exists_one"])}(v${d}, ${expr(d, [...vars, `v${d}`])})`,
    () => `${list(d, vars)}.map(v${d}, ${expr(d, [...vars, `v${d}`])})`,
    () => `${list(d, vars)}.filter(v${d}, ${expr(d, [...vars, `v${d}`])})`,
    () => `${list(d, vars)}.map(v${d}, ${expr(d, [...vars, `v${d}`])}, ${expr(d, [...vars, `v${d}`])})`,
    () => `${list(d, vars)}.${pick(["distinct()", "flatten()", "isSorted()", "sum()", "min()", "max()"])}`,
    () => `[${x()}, ${x()}] + ${list(d, vars)}`,
    () => `{${pick(["'k'", "1", "true"])}: ${x()}}[${x()}]`,
  ];
  return pick(forms)();
}

test(`${CASES} random expressions over random objects: compiled and interpreted agree (seed ${SEED})`, () => {
  const mismatches: string[] = [];
  let values = 0;
  let unparsed = 0;
  for (let i = 0; i < CASES; i++) {
    const source = expr(4, []);
    let compiled, interpreted;
    try {
      compiled = compileExpression(source, { roots: ["object"], engine: "compiler" });
      interpreted = compileExpression(source, { roots: ["object"], engine: "interpreter" });
    } catch (err) {
      // The parser's own limits (nesting, lookahead) are not what this test is about.
      if (!/syntax error/.test((err as Error).message)) throw err;
      unparsed++;
      continue;
    }
    for (let j = 0; j < 3; j++) {
      const object = json(3);
      const a = canonical(compiled.evaluate({ object }));
      const b = canonical(interpreted.evaluate({ object }));
      if (a !== "<error>") values++;
      if (a !== b) mismatches.push(`${source}\n  object ${JSON.stringify(object)}\n  compiled ${a}\n  interpreted ${b}`);
    }
  }
  assert.deepEqual(mismatches.slice(0, 10), []);
  assert.ok(unparsed < CASES / 10, `${unparsed} expressions did not parse`);
  assert.ok(values > CASES / 2, `only ${values} of ${CASES * 3} evaluations gave a value`);
});
