import { celEnv, celList, celMap, CelScalar, celUint, isCelError, isCelList, isCelMap, isCelType, isCelUint, parse, plan, type CelEnv, type CelValue } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import type { Value as ProtoValue } from "@bufbuild/cel-spec/cel/expr/value_pb.js";
import { getConformanceSuite, type IncrementalTest, type IncrementalTestSuite } from "@bufbuild/cel-spec/testdata/tests.js";
import { getTestRegistry } from "@bufbuild/cel-spec/testdata/registry.js";
import { UNLIMITED } from "../../src/engine/budget.js";
import { generate } from "../../src/engine/cel/codegen/compile.js";
import { fromInterpreter, toInterpreter, type Value } from "../../src/engine/cel/codegen/values.js";

/*
 * Runs the CEL conformance suite @bufbuild/cel-spec ships through both engines: @bufbuild/cel's
 * interpreter and virtguard's compiler. A test "needs protobuf messages" when its expression
 * names a message type or its bindings or expected value hold one; those are counted apart.
 */

const registry = getTestRegistry();

export interface FileCounts {
  file: string;
  tests: number;
  /** Tests that need protobuf messages (excluded from the comparison). */
  messages: number;
  /** Of the others: passed by the interpreter, by the compiler, and by the interpreter but not the compiler. */
  interpreter: number;
  compiler: number;
  regressions: string[];
}

class NeedsMessages extends Error {}

const MESSAGE_NAMES = /TestAllTypes|NestedTestAllTypes|google\.protobuf\.|cel\.expr\.|TestRequired|GlobalEnum|NestedEnum|proto[23]\./;

function celOf(v: ProtoValue): CelValue | { typeName: string } {
  const k = v.kind;
  switch (k.case) {
    case "nullValue":
      return null;
    case "boolValue":
    case "int64Value":
    case "doubleValue":
    case "stringValue":
    case "bytesValue":
      return k.value;
    case "uint64Value":
      return celUint(k.value);
    case "listValue":
      return celList(k.value.values.map((x) => celOf(x) as CelValue));
    case "mapValue":
      return celMap(new Map(k.value.entries.map((e) => [celOf(e.key as ProtoValue) as string, celOf(e.value as ProtoValue) as CelValue])));
    case "typeValue":
      return { typeName: k.value };
    default:
      throw new NeedsMessages();
  }
}

/** Whether a result is exactly the expected value: same types, same values (NaN equal to NaN). */
function same(r: CelValue, e: CelValue | { typeName: string }): boolean {
  if (e !== null && typeof e === "object" && "typeName" in e && !isCelType(e as unknown as CelValue)) return isCelType(r) && (r as { name: string }).name === e.typeName;
  if (typeof r !== typeof e) return false;
  if (typeof r === "number") return Number.isNaN(r) ? Number.isNaN(e as number) : r === e;
  if (r === null || typeof r !== "object") return r === e;
  if (r instanceof Uint8Array) return e instanceof Uint8Array && Buffer.from(r).equals(Buffer.from(e));
  if (isCelUint(r)) return isCelUint(e) && r.value === e.value;
  if (isCelList(r)) {
    if (!isCelList(e) || r.size !== e.size) return false;
    for (let i = 0; i < r.size; i++) if (!same(r.get(i) as CelValue, e.get(i) as CelValue)) return false;
    return true;
  }
  if (isCelMap(r)) {
    if (!isCelMap(e) || r.size !== e.size) return false;
    for (const [k, v] of e) {
      const x = r.get(k);
      if (x === undefined || !same(x, v)) return false;
    }
    return true;
  }
  return false;
}

interface Prepared {
  expr: string;
  bindings: Record<string, CelValue>;
  expected: { error: true } | { value: CelValue | { typeName: string } } | undefined;
  env: (names: readonly string[]) => CelEnv;
  container: string;
}

function prepare(t: IncrementalTest): Prepared {
  const o = t.original;
  if (MESSAGE_NAMES.test(o.expr)) throw new NeedsMessages();
  const bindings: Record<string, CelValue> = {};
  for (const [name, ev] of Object.entries(o.bindings)) {
    if (ev.kind.case !== "value") throw new NeedsMessages();
    bindings[name] = celOf(ev.kind.value) as CelValue;
  }
  const r = o.resultMatcher;
  const expected = r.case === "value" ? { value: celOf(r.value) } : r.case === "evalError" ? ({ error: true } as const) : undefined;
  const env = (names: readonly string[]) =>
    celEnv({ registry, namespace: o.container, funcs: [...strings], variables: Object.fromEntries(names.map((n) => [n, CelScalar.DYN])) });
  return { expr: o.expr, bindings, expected, env, container: o.container };
}

function passes(result: () => CelValue, expected: Prepared["expected"]): boolean {
  let r: CelValue;
  try {
    r = result();
  } catch {
    return expected !== undefined && "error" in expected;
  }
  if (expected === undefined) return !isCelError(r);
  if ("error" in expected) return isCelError(r);
  return !isCelError(r) && same(r, expected.value);
}

function runInterpreter(p: Prepared): CelValue {
  return plan(p.env(Object.keys(p.bindings)), parse(p.expr))(p.bindings) as CelValue;
}

function runCompiler(p: Prepared): CelValue {
  const parsed = parse(p.expr);
  const names = Object.keys(p.bindings);
  const { run } = generate(parsed.expr as NonNullable<typeof parsed.expr>, names, p.env, p.container);
  const bindings: Record<string, Value> = {};
  for (const n of names) bindings[n] = fromInterpreter(p.bindings[n] as CelValue);
  return toInterpreter(run(bindings, UNLIMITED));
}

function allTests(s: IncrementalTestSuite): IncrementalTest[] {
  return [...s.tests, ...s.suites.flatMap(allTests)];
}

/** Pass counts per conformance file, both engines. */
export function conformance(): FileCounts[] {
  return getConformanceSuite().suites.map((file) => {
    const counts: FileCounts = { file: file.name, tests: 0, messages: 0, interpreter: 0, compiler: 0, regressions: [] };
    for (const t of allTests(file)) {
      counts.tests++;
      let p: Prepared;
      try {
        p = prepare(t);
      } catch (err) {
        if (err instanceof NeedsMessages) {
          counts.messages++;
          continue;
        }
        throw err;
      }
      const i = passes(() => runInterpreter(p), p.expected);
      const c = passes(() => runCompiler(p), p.expected);
      if (i) counts.interpreter++;
      if (c) counts.compiler++;
      if (i && !c) counts.regressions.push(`${t.name}: ${p.expr}`);
    }
    return counts;
  });
}
