import { isCelUint } from "@bufbuild/cel";
import { Double, Foreign, Opaque, TypeBox, type Value } from "../../src/engine/cel/codegen/values.js";

/**
 * A value as text that keeps what CEL distinguishes (int 1, double 1.0 and uint 1u differ; map key
 * order does not), so two engines' results compare with one string equality. Errors compare equal
 * to each other whatever their message.
 */
export function canonical(v: Value | Error | undefined): string {
  if (v instanceof Error) return "<error>";
  if (v === undefined) return "<undefined>";
  if (v === null) return "null";
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return String(v);
    case "number":
      return Number.isInteger(v) ? `int(${BigInt(v)})` : `double(${v})`;
    case "bigint":
      return `int(${v})`;
  }
  if (v instanceof Double) return `double(${v.v})`;
  if (isCelUint(v)) return `uint(${v.value})`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(", ")}]`;
  if (v instanceof Uint8Array) return `bytes(${Buffer.from(v).toString("hex")})`;
  if (v instanceof Opaque) return `${v.kind}(${v.text})`;
  if (v instanceof Foreign) return `foreign(${String(v.v)})`;
  if (v instanceof TypeBox) return `type(${v.t.name})`;
  const entries = v instanceof Map ? [...(v as Map<unknown, Value>)] : Object.entries(v as Record<string, Value>);
  return `{${entries
    .map(([k, x]) => `${canonical(k as Value)}: ${canonical(x)}`)
    .sort()
    .join(", ")}}`;
}
