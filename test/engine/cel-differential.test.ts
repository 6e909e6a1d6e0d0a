import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { precompiledExpressions } from "../../src/policy-files/cel-cache.js";
import { readObjectsFile } from "../../src/cluster/files.js";
import { ObjectStore } from "../../src/cluster/object-store.js";
import type { CompiledExpression, Value, VariableScope } from "../../src/engine/cel/compile.js";
import { CelFault } from "../../src/engine/cel/codegen/values.js";
import { bindParameters, evaluate, loadPolicySet, type AdmissionRequest, type CompiledPolicy, type Finding, type JsonObject, type PolicySet, type Verdict } from "../../src/engine/index.js";
import { readPolicySources, SHIPPED_POLICIES } from "../../src/policy-files/policy-dir.js";
import { canonical } from "../support/cel-values.js";
import { allFixtureFiles } from "../support/fixtures.js";
import { admissionRequest } from "../support/review.js";

/*
 * Every expression of the shipped policy set (matchConditions, variables, lookup arguments,
 * validations, messageExpressions), on every fixture object, as CREATE, UPDATE and DELETE: the
 * compiled code and @bufbuild/cel's interpreter give the same value, or both an error.
 */

const sources = readPolicySources(SHIPPED_POLICIES);
const compiled = loadPolicySet(sources, { parsed: precompiledExpressions(), engine: "compiler" });
const interpreted = loadPolicySet(sources, { parsed: precompiledExpressions(), engine: "interpreter" });

const objectFiles = [...allFixtureFiles(), ...readdirSync(join(SHIPPED_POLICIES, "tests", "objects")).map((f) => join(SHIPPED_POLICIES, "tests", "objects", f))];
const objects: JsonObject[] = objectFiles.flatMap((f) => {
  try {
    return readObjectsFile(f).map((p) => p.object);
  } catch {
    return [];
  }
});

function requestsFor(object: JsonObject): AdmissionRequest[] {
  try {
    const changed = structuredClone(object);
    (changed.metadata as JsonObject).generation = 7;
    return [admissionRequest({ object }), admissionRequest({ object: changed, oldObject: object }), admissionRequest({ oldObject: object })];
  } catch {
    return []; // a kind no policy matches (Nodes, Namespaces): nothing to send
  }
}

function contextOf(set: PolicySet): ObjectStore {
  const store = new ObjectStore(set.indexes);
  for (const o of objects) store.upsert(o);
  return store;
}

/** The policy's variables as the evaluator resolves them, each through its own engine. */
function scopeOf(policy: CompiledPolicy, bindings: Record<string, unknown>, store: ObjectStore, request: AdmissionRequest): VariableScope {
  const values = new Map<string, Value | Error>();
  const run = (e: CompiledExpression): Value => {
    const v = e.evaluate(bindings);
    if (v instanceof Error) throw new CelFault(v.message);
    return v;
  };
  const scope: VariableScope = {
    get(name) {
      if (!values.has(name)) {
        const variable = policy.variables.find((v) => v.name === name);
        let value: Value | Error;
        try {
          if (!variable) throw new CelFault(`no variable ${name}`);
          switch (variable.type) {
            case "expression":
              value = run(variable.expr);
              break;
            case "get": {
              const n = run(variable.objectName);
              const ns = variable.namespace ? run(variable.namespace) : variable.namespaced ? (request.namespace ?? null) : null;
              value = typeof n === "string" && n ? (store.get(variable.kind, n, typeof ns === "string" ? ns : undefined) ?? null) : null;
              break;
            }
            case "list":
              value = store.list(variable.kind);
              break;
            case "ipQuery": {
              const within = variable.within ? (run(variable.within) as string[]) : undefined;
              const outside = variable.outside ? (run(variable.outside) as string[]) : undefined;
              value = store.ipQuery(variable.kind, variable.index, { within, outside, limit: variable.limit });
              break;
            }
            case "indexQuery": {
              const key = run(variable.key);
              const found = store.indexQuery(variable.kind, variable.index, typeof key === "string" ? [key] : (key as string[]), variable.limit);
              value = variable.anyOf ? found.filter((item) => variable.anyOf?.some((e) => e.evaluate({ ...bindings, item }) === true)) : found;
              break;
            }
          }
        } catch (err) {
          value = err instanceof CelFault ? new Error(err.message) : (err as Error);
        }
        values.set(name, value);
      }
      const v = values.get(name) as Value | Error;
      if (v instanceof Error) throw new CelFault(v.message);
      return v;
    },
    all: () => new Map(policy.variables.map((v) => [v.name, scope.get(v.name)])),
  };
  return scope;
}

/** Every expression of a policy, labelled by where it sits. */
function expressionsOf(policy: CompiledPolicy): [string, CompiledExpression][] {
  const out: [string, CompiledExpression][] = [];
  policy.matchConditions.forEach((c, i) => out.push([`matchConditions[${i}]`, c.expr]));
  for (const v of policy.variables) {
    if (v.type === "expression") out.push([`variables.${v.name}`, v.expr]);
    if (v.type === "get") {
      out.push([`variables.${v.name}.get.name`, v.objectName]);
      if (v.namespace) out.push([`variables.${v.name}.get.namespace`, v.namespace]);
      if (v.onMissing !== "Null" && v.onMissing.messageExpr) out.push([`variables.${v.name}.onMissing`, v.onMissing.messageExpr]);
    }
    if (v.type === "ipQuery") {
      if (v.within) out.push([`variables.${v.name}.within`, v.within]);
      if (v.outside) out.push([`variables.${v.name}.outside`, v.outside]);
    }
  }
  policy.validations.forEach((v, i) => {
    out.push([`validations[${i}]`, v.expr]);
    if (v.messageExpr) out.push([`validations[${i}].messageExpression`, v.messageExpr]);
  });
  return out;
}

test("every shipped expression gives the same value compiled and interpreted, on every fixture", () => {
  const params = bindParameters(compiled, {});
  const stores = [contextOf(compiled), contextOf(interpreted)] as const;
  let compared = 0;
  let values = 0;
  const mismatches: string[] = [];
  for (const object of objects) {
    for (const request of requestsFor(object)) {
      const { object: obj, oldObject, ...rest } = request;
      compiled.policies.forEach((policy, p) => {
        const other = interpreted.policies[p] as CompiledPolicy;
        assert.equal(other.name, policy.name);
        const base = { object: obj ?? null, oldObject: oldObject ?? null, request: rest, params: params.values };
        const a = { ...base } as Record<string, unknown>;
        const b = { ...base } as Record<string, unknown>;
        a.variables = scopeOf(policy, a, stores[0], request);
        b.variables = scopeOf(other, b, stores[1], request);
        const left = expressionsOf(policy);
        const right = expressionsOf(other);
        left.forEach(([where, expr], i) => {
          const x = canonical(expr.evaluate(a));
          const y = canonical((right[i] as [string, CompiledExpression])[1].evaluate(b));
          compared++;
          if (x !== "<error>") values++;
          if (x !== y) mismatches.push(`${policy.name} ${where} on ${String(object.kind)} ${request.operation}: compiled ${x.slice(0, 200)}, interpreted ${y.slice(0, 200)}\n  ${expr.source.slice(0, 300)}`);
        });
      });
    }
  }
  assert.deepEqual(mismatches.slice(0, 20), []);
  // Not vacuous: thousands of evaluations, most of them values rather than errors.
  assert.ok(compared > 2000, `compared ${compared}`);
  assert.ok(values > compared / 2, `${values} values of ${compared}`);
});

test("verdicts of the whole set are the same compiled and interpreted, on every fixture", () => {
  const stores = [contextOf(compiled), contextOf(interpreted)] as const;
  let requests = 0;
  for (const object of objects) {
    for (const request of requestsFor(object)) {
      const a = evaluate(compiled, request, { context: stores[0], params: bindParameters(compiled, {}) });
      const b = evaluate(interpreted, request, { context: stores[1], params: bindParameters(interpreted, {}) });
      const what = `${String(object.kind)} ${String((object.metadata as JsonObject).name)} ${request.operation}`;
      assert.deepEqual(withoutAssumptions(errorsAlike(a)), withoutAssumptions(errorsAlike(b)), what);
      // Assumptions are the defaulted parameters a run really read: the compiled code reads them
      // one by one as it needs them, the interpreter converts the parameters whole, so it can
      // only state more of them, never fewer.
      const findings = (v: Verdict) => [...v.denials, ...v.warnings, ...v.audits];
      findings(a).forEach((f, i) => {
        const broader = new Set(findings(b)[i]?.assumes ?? []);
        for (const p of f.assumes ?? []) assert.ok(broader.has(p), `${what}: compiled assumes ${p}, interpreted does not`);
      });
      requests++;
    }
  }
  assert.ok(requests > 30, `only ${requests} requests`);
});

function withoutAssumptions(v: Verdict): Verdict {
  const strip = (f: Finding): Finding => {
    const rest = { ...f };
    delete rest.assumes;
    return rest;
  };
  return { ...v, denials: v.denials.map(strip), warnings: v.warnings.map(strip), audits: v.audits.map(strip) };
}

/** A verdict whose evaluation errors read alike: the engines word CEL errors differently. */
function errorsAlike(v: Verdict): Verdict {
  const same = (f: Finding): Finding => (f.reason === "InternalError" ? { ...f, message: f.message.replace(/ failed: .*$/, " failed") } : f);
  return { ...v, denials: v.denials.map(same), warnings: v.warnings.map(same), audits: v.audits.map(same) };
}
