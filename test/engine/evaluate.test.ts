import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeResponse } from "../../src/admission/review.js";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { bindParameters, evaluate, EvaluationBudget, loadPolicySet, type JsonObject, type JsonValue, type Verdict } from "../../src/engine/index.js";
import { admissionRequest, type RequestOptions } from "../support/review.js";
import { policyDoc, source } from "../support/policy-doc.js";

const CLASS = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineClass", resource: "virtualmachineclasses" };

function vm(cores: number, extra: JsonObject = {}): JsonObject {
  return {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: "vm", namespace: "ns", labels: { tier: "prod" } },
    spec: { virtualMachineClassName: "small", cpu: { cores }, memory: { size: "1Gi" }, blockDeviceRefs: [] },
    ...extra,
  };
}

function run(docs: JsonObject[], opts: RequestOptions & { context?: JsonObject[]; params?: Record<string, JsonValue>; budget?: EvaluationBudget }): Verdict {
  const set = loadPolicySet(docs.map((d, i) => source(`p${i}.json`, d)));
  const store = new ObjectStore(set.indexes);
  for (const o of opts.context ?? []) store.upsert(o);
  return evaluate(set, admissionRequest(opts), { context: store, params: bindParameters(set, opts.params ?? {}), budget: opts.budget });
}

const deny = (expression: string, message: string) => ({ expression, message, action: "Deny" });

test("every Deny violation of every policy is reported, in order", () => {
  const verdict = run(
    [
      policyDoc("cores", { validations: [deny("object.spec.cpu.cores <= 8", "too many cores"), deny("object.spec.cpu.cores % 2 == 0", "odd cores")] }),
      policyDoc("memory", { validations: [deny("object.spec.memory.size == '2Gi'", "wrong memory")] }),
    ],
    { object: vm(9) },
  );
  assert.equal(verdict.allowed, false);
  assert.deepEqual(
    verdict.denials.map((d) => `${d.policy}: ${d.message}`),
    ["cores: too many cores", "cores: odd cores", "memory: wrong memory"],
  );
});

test("Warn becomes a warning and Audit is recorded without affecting the request", () => {
  const verdict = run(
    [policyDoc("p", { validations: [{ expression: "false", message: "heads up", action: "Warn" }, { expression: "false", message: "noted", action: "Audit" }] })],
    { object: vm(2) },
  );
  assert.equal(verdict.allowed, true);
  assert.deepEqual(verdict.warnings.map((w) => w.message), ["heads up"]);
  assert.deepEqual(verdict.audits.map((a) => a.message), ["noted"]);
  const response = encodeResponse("uid-1", verdict).response;
  assert.deepEqual(response.warnings, ["[p] heads up"]);
  assert.deepEqual(response.auditAnnotations, { p: "noted" });
});

test("messageExpression carries values; a failing one falls back to message", () => {
  const verdict = run(
    [
      policyDoc("p", {
        validations: [
          { expression: "false", messageExpression: "'spec.cpu.cores is ' + string(object.spec.cpu.cores)", message: "static", action: "Deny" },
          { expression: "false", messageExpression: "object.spec.nope.x", message: "fallback", action: "Deny" },
        ],
      }),
    ],
    { object: vm(249) },
  );
  assert.deepEqual(verdict.denials.map((d) => d.message), ["spec.cpu.cores is 249", "fallback"]);
});

test("messages are one line: newlines and control characters never reach a warning", () => {
  const verdict = run([policyDoc("p", { validations: [{ expression: "false", messageExpression: "'line one\\nline two\\t\\u0007end'", message: "m", action: "Warn" }] })], {
    object: vm(1),
  });
  assert.deepEqual(verdict.warnings.map((w) => w.message), ["line one line two end"]);
});

test("matchConditions gate a policy; resource rules decide the operations", () => {
  const doc = policyDoc("p", {
    matchConditions: [{ name: "prod-only", expression: "object.metadata.labels.tier == 'prod'" }],
    validations: [deny("false", "denied")],
  });
  assert.equal(run([doc], { object: vm(1) }).allowed, false);
  const dev = vm(1);
  (dev.metadata as { labels: Record<string, string> }).labels.tier = "dev";
  assert.equal(run([doc], { object: dev }).allowed, true);
  assert.equal(run([doc], { oldObject: vm(1), operation: "DELETE" }).allowed, true, "DELETE is not in the rule's operations");
});

test("an expression that cannot be evaluated denies under Fail and is audited under Ignore", () => {
  const failing = { validations: [deny("object.spec.nope.cores > 1", "m")] };
  const fail = run([policyDoc("p", failing)], { object: vm(1) });
  assert.equal(fail.allowed, false);
  assert.match(fail.denials[0]?.message ?? "", /policy could not be evaluated: validation "object\.spec\.nope\.cores > 1" failed/);
  const ignore = run([policyDoc("p", { ...failing, failurePolicy: "Ignore" })], { object: vm(1) });
  assert.equal(ignore.allowed, true);
  assert.equal(ignore.audits.length, 1);
});

test("an evaluation error in a Warn or Audit policy warns or audits, never denies", () => {
  const warn = (expression: string) => ({ expression, message: "w", action: "Warn" });
  const broken = "object.spec.nope.cores > 1";
  const warnOnly = run([policyDoc("p", { validations: [warn(broken)] })], { object: vm(1) });
  assert.equal(warnOnly.allowed, true);
  assert.match(warnOnly.warnings[0]?.message ?? "", /policy could not be evaluated/);
  const auditOnly = run([policyDoc("p", { validations: [{ expression: broken, message: "a", action: "Audit" }] })], { object: vm(1) });
  assert.deepEqual([auditOnly.allowed, auditOnly.warnings.length, auditOnly.audits.length], [true, 0, 1]);
  // A variable fails before any validation: the policy's loudest action decides.
  const variable = { variables: [{ name: "x", expression: "object.spec.nope.cores" }] };
  const guidance = run([policyDoc("p", { ...variable, validations: [warn("variables.x > 1"), { expression: "true", message: "a", action: "Audit" }] })], { object: vm(1) });
  assert.deepEqual([guidance.allowed, guidance.warnings.length], [true, 1]);
  const mixed = run([policyDoc("p", { ...variable, validations: [warn("true"), deny("variables.x > 1", "m")] })], { object: vm(1) });
  assert.equal(mixed.allowed, false);
  // In a mixed policy, the failing validation's own action decides.
  const failingWarn = run([policyDoc("p", { validations: [deny("true", "m"), warn(broken)] })], { object: vm(1) });
  assert.deepEqual([failingWarn.allowed, failingWarn.warnings.length], [true, 1]);
});

test("a validation must return a bool", () => {
  const verdict = run([policyDoc("p", { validations: [deny("object.spec.cpu.cores", "m")] })], { object: vm(1) });
  assert.match(verdict.denials[0]?.message ?? "", /must return a bool, got int 1/);
});

test("get lookups: found object, Null when missing, Warn stops the policy with a message", () => {
  const lookup = (onMissing: JsonValue) => ({
    variables: [{ name: "cls", lookup: { target: CLASS, get: { name: "object.spec.virtualMachineClassName" }, onMissing } }],
    validations: [deny("variables.cls == null || variables.cls.spec.maxCores >= object.spec.cpu.cores", "too big for class")],
  });
  const small = { apiVersion: "virtualization.deckhouse.io/v1alpha3", kind: "VirtualMachineClass", metadata: { name: "small" }, spec: { maxCores: 2 } };
  assert.deepEqual(run([policyDoc("p", lookup("Null"))], { object: vm(4), context: [small] }).denials.map((d) => d.message), ["too big for class"]);
  assert.equal(run([policyDoc("p", lookup("Null"))], { object: vm(4) }).allowed, true);
  const warned = run([policyDoc("p", lookup({ action: "Warn", messageExpression: "'class ' + object.spec.virtualMachineClassName + ' not found'" }))], { object: vm(4) });
  assert.equal(warned.allowed, true);
  assert.deepEqual(warned.warnings.map((w) => w.message), ["class small not found"]);
  const denied = run([policyDoc("p", lookup({ action: "Deny", message: "no class" }))], { object: vm(4) });
  assert.deepEqual(denied.denials.map((d) => d.message), ["no class"]);
});

test("ipQuery lookups read the index the policies declare", () => {
  const LEASE = { apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineIPAddressLease", resource: "virtualmachineipaddressleases" };
  const doc = policyDoc("p", {
    indexes: [{ name: "address", target: LEASE, type: "ip", key: "object.metadata.name.substring(3).replace('-', '.')" }],
    variables: [{ name: "stranded", lookup: { target: LEASE, ipQuery: { index: "address", outside: "['10.0.0.0/24']", limit: 5 } } }],
    validations: [{ expression: "variables.stranded.size() == 0", messageExpression: "'strands ' + variables.stranded.map(l, l.metadata.name).join(', ')", message: "m", action: "Deny" }],
  });
  const lease = (name: string) => ({ apiVersion: "virtualization.deckhouse.io/v1alpha2", kind: "VirtualMachineIPAddressLease", metadata: { name } });
  const verdict = run([doc], { object: vm(1), context: [lease("ip-10-0-0-5"), lease("ip-10-0-1-7")] });
  assert.deepEqual(verdict.denials.map((d) => d.message), ["strands ip-10-0-1-7"]);
});

test("parameters come from their declaration's default unless given, and are checked against their schema", () => {
  const doc = policyDoc("p", {
    parameters: [{ name: "featureGates", description: "gates", schema: { type: "array", items: { type: "string" } }, default: [] }],
    validations: [deny("'SDN' in params.featureGates", "needs SDN")],
  });
  assert.equal(run([doc], { object: vm(1) }).allowed, false);
  assert.equal(run([doc], { object: vm(1), params: { featureGates: ["SDN"] } }).allowed, true);
  assert.throws(() => run([doc], { object: vm(1), params: { featureGates: "SDN" } }), /parameter "featureGates" = "SDN": must be array/);
  assert.throws(() => run([doc], { object: vm(1), params: { edition: "EE" } }), /unknown parameter "edition": no loaded policy declares it \(declared: featureGates\)/);
});

test("objectSelector matches labels of the object, or of the old object", () => {
  const doc = policyDoc("p", { validations: [deny("false", "denied")] });
  (doc.spec as { match: JsonObject }).match.objectSelector = { matchExpressions: [{ key: "tier", operator: "In", values: ["prod"] }] };
  assert.equal(run([doc], { object: vm(1) }).allowed, false);
  const unlabelled = vm(1);
  (unlabelled.metadata as JsonObject).labels = {};
  assert.equal(run([doc], { object: unlabelled }).allowed, true);
});

test("a deadline in the past: every policy answers through its failurePolicy, nothing is thrown", () => {
  const docs = [policyDoc("strict", { failurePolicy: "Fail" }), policyDoc("lenient", { failurePolicy: "Ignore" })];
  const verdict = run(docs, { object: vm(1), budget: new EvaluationBudget(Infinity, performance.now() - 1, 2000) });
  assert.equal(verdict.allowed, false);
  assert.deepEqual(
    verdict.denials.map((d) => [d.policy, d.reason]),
    [["strict", "BudgetExceeded"]],
  );
  assert.match(verdict.denials[0]?.message ?? "", /^policy could not finish within the request's evaluation budget \(evaluation deadline exceeded \(2000 ms\)\); failurePolicy Fail denies the request$/);
  assert.deepEqual(
    verdict.audits.map((a) => [a.policy, a.reason]),
    [["lenient", "BudgetExceeded"]],
  );
  assert.match(verdict.audits[0]?.message ?? "", /not evaluated: the request's evaluation budget ran out in policy "strict".*failurePolicy Ignore lets it through unchecked/);
});

test("a cost limit that trips inside an expression keeps the denials found before it", () => {
  const docs = [
    policyDoc("first", { validations: [deny("object.spec.cpu.cores >= 2", "too few cores")] }),
    // Quadratic in the list's size: 200 × 200 comparisons, far beyond 5,000 units.
    policyDoc("quadratic", { validations: [deny("[" + Array.from({ length: 200 }, (_, i) => i).join(",") + "].all(a, [" + Array.from({ length: 200 }, (_, i) => i).join(",") + "].exists(b, a == b))", "never")] }),
    policyDoc("after", { validations: [deny("false", "never reached")] }),
  ];
  const budget = new EvaluationBudget(5000, Infinity, 0);
  const verdict = run(docs, { object: vm(1), budget });
  assert.deepEqual(
    verdict.denials.map((d) => [d.policy, d.reason ?? ""]),
    [
      ["first", ""],
      ["quadratic", "BudgetExceeded"],
      ["after", "BudgetExceeded"],
    ],
  );
  assert.equal(verdict.denials[0]?.message, "too few cores");
  assert.match(verdict.denials[1]?.message ?? "", /cost budget exceeded \(\d+ > 5000 units\)/);
  assert.ok(budget.used > 5000 && budget.used < 6000, `charging stopped at the trip, spent ${budget.used}`);
});

test("the same quadratic expression with no budget finishes: metering changes no verdict", () => {
  const list = "[" + Array.from({ length: 50 }, (_, i) => i).join(",") + "]";
  const docs = [policyDoc("quadratic", { validations: [deny(`${list}.all(a, ${list}.exists(b, a == b))`, "never")] })];
  const budget = new EvaluationBudget();
  assert.equal(run(docs, { object: vm(1), budget }).allowed, true);
  assert.ok(budget.used >= 50 * 25, `every comparison was charged: ${budget.used}`);
});

test("a request no policy matches is allowed with nothing to say", () => {
  const verdict = run([policyDoc("p", { validations: [deny("false", "denied")] })], {
    object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "ns" } },
  });
  assert.deepEqual(verdict, { allowed: true, denials: [], warnings: [], audits: [], matched: [] });
});

test("a filter over a long list is charged linearly: each step's `accu + [x]` costs one unit, not the accumulator's size", () => {
  const spent = (n: number): number => {
    const list = "[" + Array.from({ length: n }, (_, i) => i).join(",") + "]";
    const docs = [policyDoc("linear", { validations: [deny(`${list}.filter(x, x >= 0).size() == ${n}`, "never")] })];
    const budget = new EvaluationBudget();
    assert.equal(run(docs, { object: vm(1), budget }).allowed, true);
    return budget.used;
  };
  const [small, large] = [spent(2000), spent(4000)];
  // Twice the items: about twice the units (a quadratic charge would be four times).
  assert.ok(large / small < 2.3, `2,000 items: ${small} units; 4,000 items: ${large} units`);
});

/** An expression that charges about 500 units each time it runs: a variable's cost shows in the budget. */
const COSTLY = "[" + Array.from({ length: 500 }, (_, i) => i).join(",") + "].filter(x, x >= 0).size()";

test("a variable is computed on its first read, once however often it is read, and never when nothing reads it", () => {
  const spent = (validations: JsonObject[]): number => {
    const budget = new EvaluationBudget();
    const docs = [policyDoc("vars", { variables: [{ name: "n", expression: COSTLY }, { name: "unread", expression: COSTLY }], validations })];
    assert.equal(run(docs, { object: vm(1), budget }).allowed, true);
    return budget.used;
  };
  const oneRead = spent([deny("variables.n == 500", "never")]);
  const threeReads = spent([deny("variables.n == 500", "never"), deny("variables.n > 0", "never"), deny("variables.n + 1 == 501", "never")]);
  const noRead = spent([deny("true", "never")]);
  assert.ok(oneRead >= 500, `one read computes the variable: ${oneRead} units`);
  assert.ok(threeReads - oneRead < 50, `three reads compute it once: ${threeReads} units against ${oneRead}`);
  assert.ok(noRead < 50, `an unread variable costs nothing: ${noRead} units`);
});

test("a variable that fails is a CEL error where it is read: || absorbs it, else the finding names the variable and its expression", () => {
  const variables = [{ name: "fraction", expression: "object.spec.cpu.coreFraction" }];
  const absorbed = run([policyDoc("absorbed", { variables, validations: [deny("variables.fraction == '50%' || true", "never")] })], { object: vm(1) });
  assert.equal(absorbed.allowed, true);
  const failing = run([policyDoc("failing", { variables, validations: [deny("variables.fraction == '50%'", "fraction")] })], { object: vm(1) });
  assert.equal(failing.denials.length, 1);
  assert.equal(failing.denials[0]?.reason, "InternalError");
  assert.match(failing.denials[0]?.message ?? "", /variable "fraction" "object\.spec\.cpu\.coreFraction" failed: field not found: coreFraction/);
});

test("request is the AdmissionRequest in matchConditions and validations alike, read by several policies", () => {
  const docs = [
    policyDoc("created", { matchConditions: [{ name: "create", expression: "request.operation == 'CREATE'" }], validations: [deny("request.namespace != 'ns'", "in ns")] }),
    policyDoc("named", { validations: [deny("request.name != 'vm' || request.userInfo.username != 'tenant-admin'", "named vm")] }),
  ];
  const created = run(docs, { object: vm(1) });
  assert.deepEqual(created.matched, ["created", "named"]);
  assert.deepEqual(created.denials.map((d) => d.message), ["in ns", "named vm"]);
  const updated = run(docs, { object: vm(1), oldObject: vm(1) });
  assert.deepEqual(updated.matched, ["named"]);
});

test("a matchCondition shared by several policies runs once per request", () => {
  const condition = [{ name: "costly", expression: `${COSTLY} == 500` }];
  const spent = (policies: number): number => {
    const budget = new EvaluationBudget();
    const docs = Array.from({ length: policies }, (_, i) => policyDoc(`p${i}`, { matchConditions: condition }));
    assert.equal(run(docs, { object: vm(1), budget }).matched.length, policies);
    return budget.used;
  };
  const one = spent(1);
  assert.ok(one >= 500, `the condition ran: ${one} units`);
  assert.ok(spent(4) - one < 50, "four policies with the same condition pay for it once");
});
