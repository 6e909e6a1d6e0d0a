import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Ajv } from "ajv";
import type { ClusterFacts, PolicySet } from "./policy-set.js";
import type { JsonValue } from "./types.js";

/** Parameter values checked against their declarations once, not per request; expressions read them as `params`. */
export interface BoundParameters {
  readonly values: Readonly<Record<string, JsonValue>>;
  /** Parameters declared `assumed` (a guess about the cluster) that were not given: what findings assume. */
  readonly assumed?: ReadonlySet<string>;
}

export class ParameterError extends Error {}

/** Where the build writes the standalone validators of the shipped policies' parameter schemas. */
export const PRECOMPILED_PARAMETER_VALIDATORS = "parameter-schemas.validate.cjs";

type SchemaValidator = ((data: unknown) => boolean) & { errors?: { instancePath?: string; message?: string }[] | null };

/** Identifies a parameter schema among the precompiled ones. */
export function parameterSchemaDigest(schema: unknown): string {
  return createHash("sha256").update(JSON.stringify(schema)).digest("hex").slice(0, 32);
}

/** How parameter schemas are compiled (the build's standalone code uses the same options). */
export const PARAMETER_AJV_OPTIONS = { allErrors: false, strict: false } as const;

const require = createRequire(import.meta.url);
let precompiled: Record<string, SchemaValidator> | undefined;
let ajv: Ajv | undefined;

/**
 * A parameter schema's validator: generated at build time for the shipped policies, compiled
 * here (ajv loads only then) for any other schema. Loading code is not I/O on input: once per process.
 */
function validatorFor(schema: object): SchemaValidator {
  if (!precompiled) {
    try {
      // Spelled from src/ down, so that it holds from the bundle (dist/src/bundle/) as well.
      precompiled = require(`../engine/${PRECOMPILED_PARAMETER_VALIDATORS}`) as Record<string, SchemaValidator>;
    } catch {
      precompiled = {};
    }
  }
  const found = precompiled[parameterSchemaDigest(schema)];
  if (found) return found;
  const { Ajv } = require("ajv") as typeof import("ajv");
  return (ajv ??= new Ajv(PARAMETER_AJV_OPTIONS)).compile(schema);
}

/**
 * Binds the parameters: the values given (flags), else what the cluster states for a parameter
 * declared `fromCluster` (a fact the context source read, e.g. the API server's version), else the
 * default. A fact is no assumption; a fact its schema refuses is left out (the default stands).
 */
export function bindParameters(set: PolicySet, given: Readonly<Record<string, JsonValue>>, facts: ClusterFacts = {}): BoundParameters {
  const fromCluster: Record<string, JsonValue> = {};
  for (const [name, decl] of set.parameters) {
    const fact = decl.fromCluster === undefined ? undefined : facts[decl.fromCluster];
    if (fact === undefined || Object.hasOwn(given, name)) continue;
    if (decl.schema && !validatorFor(decl.schema)(fact)) continue;
    fromCluster[name] = fact;
  }
  given = { ...fromCluster, ...given };
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
      const validate = validatorFor(decl.schema);
      if (!validate(value)) {
        const err = validate.errors?.[0];
        throw new ParameterError(`parameter "${name}" = ${JSON.stringify(value)}: ${err?.instancePath ? `${err.instancePath} ` : ""}${err?.message ?? "is invalid"} (${decl.description})`);
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
