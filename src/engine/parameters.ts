import { createRequire } from "node:module";
import type { Ajv } from "ajv";
import type { PolicySet } from "./policy-set.js";
import type { JsonValue } from "./types.js";

/** Parameter values checked against their declarations once, not per request; expressions read them as `params`. */
export interface BoundParameters {
  readonly values: Readonly<Record<string, JsonValue>>;
  /** Parameters declared `assumed` (a guess about the cluster) that were not given: what findings assume. */
  readonly assumed?: ReadonlySet<string>;
}

export class ParameterError extends Error {}

// ajv's compiler loads only when a parameter has a value to check against its schema.
let ajv: Ajv | undefined;
function compiler(): Ajv {
  const { Ajv } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
  return (ajv ??= new Ajv({ allErrors: false, strict: false }));
}

export function bindParameters(set: PolicySet, given: Readonly<Record<string, JsonValue>>): BoundParameters {
  const values: Record<string, JsonValue> = {};
  for (const name of Object.keys(given)) {
    if (!set.parameters.has(name)) {
      const known = [...set.parameters.keys()].sort().join(", ") || "none";
      throw new ParameterError(`unknown parameter "${name}": no loaded policy declares it (declared: ${known})`);
    }
  }
  for (const [name, decl] of set.parameters) {
    const value = Object.hasOwn(given, name) ? (given[name] as JsonValue) : (decl.default ?? null);
    if (decl.schema && value !== null) {
      const validate = compiler().compile(decl.schema);
      if (!validate(value)) {
        const err = validate.errors?.[0];
        throw new ParameterError(`parameter "${name}" = ${JSON.stringify(value)}: ${err?.instancePath ?? ""} ${err?.message ?? "is invalid"} (${decl.description})`);
      }
    }
    values[name] = value;
  }
  const assumed = new Set([...set.parameters].filter(([name, decl]) => decl.assumed === true && !Object.hasOwn(given, name)).map(([name]) => name));
  return { values, assumed };
}

/** `--param NAME=VALUE`: VALUE is JSON when it parses as JSON, a string otherwise. */
export function parseParameterFlag(flag: string): [string, JsonValue] {
  const eq = flag.indexOf("=");
  if (eq <= 0) throw new ParameterError(`--param "${flag}": expected NAME=VALUE`);
  const raw = flag.slice(eq + 1);
  let value: JsonValue;
  try {
    value = JSON.parse(raw) as JsonValue;
  } catch {
    value = raw;
  }
  return [flag.slice(0, eq), value];
}
