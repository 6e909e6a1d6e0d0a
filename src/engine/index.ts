// The engine's public surface: load and compile policies, bind parameters, evaluate a request.
export { hashPolicySources, loadPolicySet, targetKey, type LoadOptions, type PolicySource } from "./load.js";
export { codeKey, type GeneratedCode, type GeneratedCodeCache, type ParsedExpressionCache } from "./cel/compile.js";
export type { KindSchema } from "./typecheck/schema.js";
export { PolicyLoadError, formatProblem, jsonPath, type PolicyProblem } from "./errors.js";
export { bindParameters, parseParameterFlag, ParameterError, type BoundParameters } from "./parameters.js";
export { evaluate, matchingPolicies, type EvaluateOptions } from "./evaluate.js";
export { renderDenial, renderFinding, singleLine } from "./message.js";
export { IPIndex } from "./ip-index.js";
export { FieldIndex } from "./field-index.js";
export type * from "./types.js";
export type { PolicySet, CompiledPolicy, IndexDefinition, LookupTarget, ParameterDeclaration, ClusterFact, ClusterFacts } from "./policy-set.js";
export type { NamedObject } from "./named-objects.js";
export { kindKeyOf } from "./types.js";
export { cloneJson, groupVersionKind, isObject, parseApiVersion } from "./object.js";
export { EvaluationBudget, BudgetExceededError, UNLIMITED } from "./budget.js";
export { compileSelfRule, type SelfRule } from "./self-rule.js";
export { requestBudget, DEFAULT_COST_LIMIT } from "./request-budget.js";
