import { BudgetExceededError, UNLIMITED, type EvaluationBudget } from "./budget.js";
import type { Bindings, CompiledExpression, Value } from "./cel/compile.js";
import { CelFault } from "./cel/codegen/values.js";
import { withBudget } from "./cel/metering.js";
import { parametersRead, parametersReadByPolicy } from "./assumptions.js";
import { embeddedRequest, mergeEmbedded } from "./embedded.js";
import { labelsOf, objectSelectorMatches, rulesMatch, selectorMatches } from "./match.js";
import { singleLine } from "./message.js";
import type { BoundParameters } from "./parameters.js";
import { ExpressionBindings, LazyVariables, PolicyStopped, RequestView, type VariableResolver } from "./policy-scope.js";
import type { CompiledPolicy, CompiledValidation, CompiledVariable, PolicySet } from "./policy-set.js";
import type { Action, AdmissionRequest, ClusterContext, Finding, Verdict } from "./types.js";

export interface EvaluateOptions {
  context: ClusterContext;
  params: BoundParameters;
  /**
   * The request's cost and time budget (default: none). When it runs out, the policy being
   * evaluated and every policy after it answer through their failurePolicy; findings made
   * before are kept.
   */
  budget?: EvaluationBudget;
}

/** Marks the uid of a request for an embedded object. */
const EMBEDDED = "/embedded";

/** Which policies a kind of request matches, remembered per set: by resource, then by the rest of the signature. */
interface MatchEntry {
  readonly group: string;
  readonly version: string;
  readonly subResource: string;
  readonly operation: string;
  readonly policies: readonly CompiledPolicy[];
}

const matchCache = new WeakMap<PolicySet, Map<string, MatchEntry[]>>();

/** The policies whose resource rules cover this kind of request, memoised per set (no key string is built per request). */
export function matchingPolicies(set: PolicySet, request: AdmissionRequest): readonly CompiledPolicy[] {
  let byResource = matchCache.get(set);
  if (!byResource) matchCache.set(set, (byResource = new Map()));
  const r = request.resource;
  const subResource = request.subResource ?? "";
  let entries = byResource.get(r.resource);
  if (!entries) {
    // Bounded: anyone who can reach the server chooses the resources and versions it names.
    if (byResource.size >= 1024) byResource.clear();
    byResource.set(r.resource, (entries = []));
  }
  for (const e of entries) {
    if (e.group === r.group && e.version === r.version && e.subResource === subResource && e.operation === request.operation) return e.policies;
  }
  const policies = set.policies.filter((p) => rulesMatch(p, request));
  if (entries.length >= 64) entries.length = 0;
  entries.push({ group: r.group, version: r.version, subResource, operation: request.operation, policies });
  return policies;
}

/**
 * Runs every matching policy and collects every result: all denials, not only the first.
 * Never throws for a budget that runs out: see EvaluateOptions.budget.
 */
export function evaluate(set: PolicySet, request: AdmissionRequest, options: EvaluateOptions): Verdict {
  const verdict: Verdict = { allowed: true, denials: [], warnings: [], audits: [], matched: [] };
  const candidates = matchingPolicies(set, request);
  if (candidates.length === 0) return verdict;
  const budget = options.budget ?? UNLIMITED;
  withBudget(budget, () => {
    const view = new RequestView(request);
    // matchConditions read no variables: they all share one scope.
    const base = new ExpressionBindings(view, options.params.values, undefined);
    // Policies often share a matchCondition (say, "not being deleted"); the loader interns equal
    // ones, so each distinct condition runs once per request.
    const conditions = new Map<CompiledExpression, Value | Error>();
    let spent: { policy: string; error: BudgetExceededError } | undefined;
    for (const policy of candidates) {
      if (spent) {
        record(verdict, budgetFinding(policy, undefined, `not evaluated: the request's evaluation budget ran out in policy "${spent.policy}" (${spent.error.message})`));
        verdict.matched.push(policy.name);
        continue;
      }
      try {
        if (!objectSelectorMatches(policy, request) || !namespaceMatches(policy, request, options.context)) continue;
        new PolicyRun(policy, view, base, options.context, verdict, conditions, budget, options.params.assumed).run();
        if (policy.judgeEmbedded && verdict.matched.at(-1) === policy.name) {
          const embedded = embeddedRequest(request, policy.judgeEmbedded);
          // The embedded kind's own policies; one level deep, as a template holds no further templates.
          if (embedded && !request.uid.endsWith(EMBEDDED)) mergeEmbedded(verdict, evaluate(set, { ...embedded, uid: request.uid + EMBEDDED }, options), policy.judgeEmbedded.path);
        }
      } catch (err) {
        if (!(err instanceof BudgetExceededError)) throw err;
        // The policy itself reported the trip (it knows which validation was running).
        spent = { policy: policy.name, error: err };
      }
    }
  });
  verdict.allowed = verdict.denials.length === 0;
  return verdict;
}

/**
 * What an evaluation error (or a budget trip) in `policy` reports: Ignore audits; Fail denies,
 * unless the validation that failed (or, before any validation, every validation and lookup)
 * could only warn or audit.
 */
function failureAction(policy: CompiledPolicy, at: CompiledValidation | undefined): Action {
  if (policy.failurePolicy !== "Fail") return "Audit";
  const actions: Action[] = at
    ? [at.action]
    : [...policy.validations.map((v) => v.action), ...policy.variables.flatMap((v) => (v.type === "get" && v.onMissing !== "Null" && v.onMissing.action !== "Allow" ? [v.onMissing.action] : []))];
  if (actions.length === 0 || actions.includes("Deny")) return "Deny";
  return actions.includes("Warn") ? "Warn" : "Audit";
}

/** A policy the budget did not let finish: its failurePolicy decides, as for any evaluation error. */
function budgetFinding(policy: CompiledPolicy, at: CompiledValidation | undefined, why: string): Finding {
  const action = failureAction(policy, at);
  const outcome = action === "Deny" ? "failurePolicy Fail denies the request" : policy.failurePolicy === "Ignore" ? "failurePolicy Ignore lets it through unchecked" : `a ${action} rule lets it through unchecked`;
  return { policy: policy.name, action, message: `policy ${why}; ${outcome}`, reason: "BudgetExceeded" };
}

function record(verdict: Verdict, finding: Finding): void {
  const list = finding.action === "Deny" ? verdict.denials : finding.action === "Warn" ? verdict.warnings : verdict.audits;
  list.push(finding);
}

/** The parameters as a view that notes which of the watched names an expression reads. */
function readsRecorded(params: unknown, watched: ReadonlySet<string>, read: Set<string>): unknown {
  if (typeof params !== "object" || params === null) return params;
  const note = (key: string | symbol) => {
    if (typeof key === "string" && watched.has(key)) read.add(key);
  };
  return new Proxy(params, {
    get(target, key, receiver) {
      note(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
    has(target, key) {
      note(key);
      return Reflect.has(target, key);
    },
    getOwnPropertyDescriptor(target, key) {
      note(key);
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
  });
}

function namespaceMatches(policy: CompiledPolicy, request: AdmissionRequest, context: ClusterContext): boolean {
  // As for webhooks, a namespace selector does not restrict cluster-scoped objects.
  if (!policy.namespaceSelector || !request.namespace) return true;
  return selectorMatches(policy.namespaceSelector, labelsOf(context.get("/Namespace", request.namespace)));
}

const watchedByAssumed = new WeakMap<ReadonlySet<string>, WeakMap<CompiledPolicy, ReadonlySet<string> | undefined>>();

/** The defaulted parameters a policy may read (statically), or undefined for none; per set of defaults. */
function watchedParameters(policy: CompiledPolicy, assumed: ReadonlySet<string>): ReadonlySet<string> | undefined {
  let byPolicy = watchedByAssumed.get(assumed);
  if (!byPolicy) watchedByAssumed.set(assumed, (byPolicy = new WeakMap()));
  if (!byPolicy.has(policy)) {
    const watched = [...parametersReadByPolicy(policy)].filter((p) => assumed.has(p));
    byPolicy.set(policy, watched.length > 0 ? new Set(watched) : undefined);
  }
  return byPolicy.get(policy);
}

class PolicyRun implements VariableResolver {
  /** Made once the policy's matchConditions hold: most policies a request reaches stop there. */
  private variables: LazyVariables | undefined;
  private bindings: ExpressionBindings;

  /** The defaulted ("assumed") parameters this run has read so far (none watched: none). */
  private assumedRead: Set<string> | undefined;

  constructor(
    private readonly policy: CompiledPolicy,
    private readonly view: RequestView,
    /** The request-wide scope, without variables: what matchConditions read. */
    private readonly base: ExpressionBindings,
    private readonly context: ClusterContext,
    private readonly verdict: Verdict,
    private readonly conditions: Map<CompiledExpression, Value | Error>,
    private readonly budget: EvaluationBudget,
    private readonly assumed?: ReadonlySet<string>,
  ) {
    this.bindings = base;
  }

  /** The policy's own scope: its variables, and the parameters as a view that records reads when one is assumed. */
  private enter(): void {
    const variables = (this.variables = new LazyVariables(this.policy, this));
    // Only a policy that may read a defaulted parameter gets the recording view (a Proxy costs).
    const assumed = this.assumed;
    const watched = assumed && assumed.size > 0 ? watchedParameters(this.policy, assumed) : undefined;
    let params = this.base.params;
    if (watched) params = readsRecorded(params, watched, (this.assumedRead = new Set()));
    this.bindings = new ExpressionBindings(this.view, params, variables);
  }

  private condition(expr: CompiledExpression): Value | Error {
    let value = this.conditions.get(expr);
    if (value === undefined) {
      value = expr.evaluate(this.base.asBindings(), this.budget);
      if (value instanceof BudgetExceededError) throw value;
      this.conditions.set(expr, value);
    }
    return value;
  }

  run(): void {
    let at: CompiledValidation | undefined;
    try {
      this.budget.checkDeadline();
      for (const condition of this.policy.matchConditions) {
        const value = this.condition(condition.expr);
        if (value === true) continue;
        if (value instanceof Error) throw new Error(`matchCondition "${condition.name}" ${JSON.stringify(condition.expr.source)} failed: ${value.message}`);
        if (value !== false) throw new Error(`matchCondition "${condition.name}" must return a bool, got ${describe(value)}`);
        return;
      }
      this.verdict.matched.push(this.policy.name);
      this.enter();
      // Lookups that can stop the policy when their object is missing decide before any rule runs,
      // in declaration order; every other variable waits until an expression reads it.
      for (const variable of this.policy.variables) {
        if (variable.type === "get" && variable.onMissing !== "Null") this.variables?.get(variable.name);
      }
      for (const v of this.policy.validations) {
        at = v;
        const ok = this.value(v.expr, "validation");
        if (ok === true) continue;
        if (ok !== false) throw new Error(`validation ${JSON.stringify(v.expr.source)} must return a bool, got ${describe(ok)}`);
        this.report(v.action, this.message(v.message, v.messageExpr) ?? `failed expression: ${v.expr.source}`, v.reason, this.assumptions(v));
      }
    } catch (err) {
      if (err instanceof PolicyStopped) return;
      if (err instanceof BudgetExceededError) {
        if (!this.verdict.matched.includes(this.policy.name)) this.verdict.matched.push(this.policy.name);
        record(this.verdict, budgetFinding(this.policy, at, `could not finish within the request's evaluation budget (${err.message})`));
        throw err;
      }
      const message = `policy could not be evaluated: ${(err as Error).message}`;
      this.report(failureAction(this.policy, at), message, "InternalError");
    }
  }

  /**
   * What an evaluation error becomes. failurePolicy Ignore: an audit. Fail: no louder than what the
   * policy could have said had it run: the failing validation's action, or, before any validation
   * ran, the loudest action the policy has. A Warn or Audit policy never blocks.
   */
  private test(expr: CompiledExpression, bindings: Bindings, what: string): boolean {
    const value = expr.evaluate(bindings, this.budget);
    if (value instanceof BudgetExceededError) throw value;
    if (value instanceof Error) throw new Error(`${what} ${JSON.stringify(expr.source)} failed: ${value.message}`);
    if (typeof value !== "boolean") throw new Error(`${what} ${JSON.stringify(expr.source)} must return a bool, got ${describe(value)}`);
    return value;
  }

  private value(expr: CompiledExpression, what: string): Value {
    const value = expr.evaluate(this.bindings.asBindings(), this.budget);
    if (value instanceof BudgetExceededError) throw value;
    if (value instanceof Error) throw new Error(`${what} ${JSON.stringify(expr.source)} failed: ${value.message}`);
    return value;
  }

  /**
   * An expression variable's value, run without the error-value round trip (LazyVariables turns
   * any failure into an error value anyway); the message is made only when it fails.
   */
  private variableValue(name: string, expr: CompiledExpression): Value {
    try {
      return expr.call(this.bindings.asBindings(), this.budget);
    } catch (err) {
      if (err instanceof BudgetExceededError || err instanceof PolicyStopped) throw err;
      const message = err instanceof Error || err instanceof CelFault ? err.message : String(err);
      throw new Error(`variable "${name}" ${JSON.stringify(expr.source)} failed: ${message}`);
    }
  }

  private message(fixed: string | undefined, expr: CompiledExpression | undefined): string | undefined {
    if (expr) {
      const value = expr.evaluate(this.bindings.asBindings(), this.budget);
      if (value instanceof BudgetExceededError) throw value;
      // As in ValidatingAdmissionPolicy, a failing or empty messageExpression falls back to message.
      if (typeof value === "string" && value.trim() !== "") return value;
    }
    return fixed;
  }

  /**
   * The defaulted parameters a finding rests on: those its expressions reach (statically) that this
   * run really read. A policy that found the value in the cluster (a lookup) before falling back
   * on the parameter's default assumes nothing.
   */
  private assumptions(v: CompiledValidation): string[] {
    const assumed = this.assumed;
    return assumed && assumed.size > 0 ? parametersRead(this.policy, v).filter((p) => assumed.has(p) && this.assumedRead?.has(p) === true) : [];
  }

  private report(action: Finding["action"], message: string, reason?: string, assumes: string[] = []): void {
    const finding: Finding = { policy: this.policy.name, action, message: singleLine(message) };
    if (reason) finding.reason = reason;
    if (assumes.length > 0) finding.assumes = assumes;
    const list = action === "Deny" ? this.verdict.denials : action === "Warn" ? this.verdict.warnings : this.verdict.audits;
    list.push(finding);
  }

  resolve(variable: CompiledVariable): Value {
    if (variable.type !== "expression") this.budget.checkDeadline();
    switch (variable.type) {
      case "expression":
        return this.variableValue(variable.name, variable.expr);
      case "get": {
        const name = this.value(variable.objectName, `lookup "${variable.name}" name`);
        const namespace = variable.namespace
          ? this.value(variable.namespace, `lookup "${variable.name}" namespace`)
          : variable.namespaced
            ? (this.view.source.namespace ?? null)
            : null;
        const found =
          typeof name === "string" && name !== "" ? this.context.get(variable.kind, name, typeof namespace === "string" ? namespace : undefined) : undefined;
        if (found) return found;
        const onMissing = variable.onMissing;
        if (onMissing === "Null") return null;
        // Messages may refer to this one: it is null from here on.
        this.variables?.set(variable.name, null);
        if (onMissing.action !== "Allow") {
          const text = this.message(onMissing.message, onMissing.messageExpr) ?? `${variable.kind.split("/")[1]} "${String(name)}" not found`;
          this.report(onMissing.action, text, "NotFound");
        }
        throw new PolicyStopped();
      }
      case "list": {
        const all = this.context.list(variable.kind);
        const some = variable.limit !== undefined && all.length > variable.limit ? all.slice(0, variable.limit) : all;
        this.budget.charge(some.length);
        return some;
      }
      case "ipQuery": {
        const within = variable.within ? cidrList(this.value(variable.within, `lookup "${variable.name}" within`)) : undefined;
        const outside = variable.outside ? cidrList(this.value(variable.outside, `lookup "${variable.name}" outside`)) : undefined;
        // The ranges are parsed, sorted and merged before the index is read.
        this.budget.charge(1 + (within?.length ?? 0) + (outside?.length ?? 0));
        const found = this.context.ipQuery(variable.kind, variable.index, { within, outside, limit: variable.limit });
        this.budget.charge(found.length);
        return found;
      }
      case "indexQuery": {
        const keys = keyList(this.value(variable.key, `lookup "${variable.name}" key`));
        const anyOf = variable.anyOf;
        this.budget.charge(1 + keys.length);
        const found = this.context.indexQuery(variable.kind, variable.index, keys, variable.limit);
        this.budget.charge(found.length);
        if (!anyOf) return found;
        // Filtered here, one expression call per object, rather than by a CEL filter() whose
        // growing result makes the cost quadratic in the number of objects.
        const kept: Value[] = [];
        for (const item of found) {
          const bindings = this.bindings.withItem(item);
          if (anyOf.some((expr) => this.test(expr, bindings, `lookup "${variable.name}" anyOf`))) kept.push(item);
        }
        return kept;
      }
    }
  }
}

function cidrList(value: Value): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new Error(`an ipQuery range must be a list of CIDR strings, got ${describe(value)}`);
  }
  return value as string[];
}

/** An indexQuery key: one string, or a list of strings. */
function keyList(value: Value): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
  throw new Error(`an indexQuery key must be a string or a list of strings, got ${describe(value)}`);
}

function describe(value: Value): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map or object";
  return `${typeof value === "number" && !Number.isInteger(value) ? "double" : typeof value === "number" || typeof value === "bigint" ? "int" : typeof value} ${String(value)}`;
}
