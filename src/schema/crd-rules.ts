import type { ErrorObject } from "ajv";
import { compileSelfRule, type GeneratedCodeCache, type JsonValue, type SelfRule } from "../engine/index.js";

export interface CelRule {
  rule: string;
  message?: string;
  messageExpression?: string;
}

const ruleCache = new Map<string, SelfRule | Error>();
let ruleCode: GeneratedCodeCache | undefined;

/** Generated code for rules, kept by the caller (the build stores the shipped CRDs' rules): rules found there are not compiled. */
export function useRuleCode(code: GeneratedCodeCache | undefined): void {
  ruleCode = code;
}

/**
 * The `x-kubernetes-validations` rules of one schema node against its value: the errors, or null
 * when every rule holds. Generated validators call it by this name (see CEL_RULES).
 */
export function celRules(rules: readonly CelRule[], data: unknown): Partial<ErrorObject>[] | null {
  let failures: Partial<ErrorObject>[] | null = null;
  for (const r of rules) {
    // Transition rules need the stored object; a manifest alone cannot be judged by them.
    if (/\boldSelf\b/.test(r.rule)) continue;
    let compiled = ruleCache.get(r.rule);
    if (!compiled) {
      try {
        compiled = compileSelfRule(r.rule, ruleCode);
      } catch (err) {
        compiled = err as Error;
      }
      ruleCache.set(r.rule, compiled);
    }
    if (compiled instanceof Error) continue;
    const result = compiled(data as JsonValue);
    if (result !== true) {
      (failures ??= []).push({
        keyword: "x-kubernetes-validations",
        message: result instanceof Error ? `rule ${JSON.stringify(r.rule)} could not be evaluated: ${result.message}` : (r.message ?? `failed rule: ${r.rule}`),
        params: { rule: r.rule },
      });
    }
  }
  return failures;
}

/** The free name standalone validator code uses for `celRules`; crd-precompiled.ts binds it. */
export const CEL_RULES = "celRules";
