import { compileExpression, type GeneratedCodeCache } from "./cel/compile.js";
import type { JsonValue } from "./types.js";

/** A compiled CRD validation rule: true when `self` passes, false when not, an Error when it cannot be evaluated. */
export type SelfRule = (self: JsonValue) => boolean | Error;

/**
 * Compiles a CEL rule over one variable, `self` (a CRD's `x-kubernetes-validations`), with the
 * policies' CEL library. Throws on a syntax or compile error. `code` may hold its generated code
 * (a self rule's code depends on nothing but its text), and receives it when compiled here.
 */
export function compileSelfRule(source: string, code?: GeneratedCodeCache): SelfRule {
  const compiled = compileExpression(source, { roots: ["self"], code });
  return (self) => {
    const result = compiled.evaluate({ self });
    return result instanceof Error ? result : result === true;
  };
}
