import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { ErrorObject } from "ajv";
import schema from "../../policies/policy.schema.json" with { type: "json" };
import type { PolicyDocument } from "./types.js";

/** The policy document validator: a type guard whose failures are in `errors`. */
export interface DocumentValidator {
  (data: unknown): data is PolicyDocument;
  errors?: ErrorObject[] | null;
}

/** Where the build writes the standalone validator of policy.schema.json (next to this module). */
export const PRECOMPILED_DOCUMENT_VALIDATOR = "policy-document.validate.cjs";

/** Identifies the schema a standalone validator was generated from. */
export function documentSchemaDigest(): string {
  return createHash("sha256").update(JSON.stringify(schema)).digest("hex").slice(0, 32);
}

/** How the policy schema is compiled (the build's standalone code uses the same options). */
export const DOCUMENT_AJV_OPTIONS = { allErrors: false, strict: true, strictRequired: false, strictTypes: false } as const;

export { schema as documentSchema };

const require = createRequire(import.meta.url);
let validator: DocumentValidator | undefined;

/**
 * The validator generated at build time when it was generated from this very schema; otherwise
 * (a development tree, an edited schema) one compiled here. Loading code is not I/O the engine
 * does on input: this runs once per process, and ajv's compiler loads only in the fallback.
 */
export function documentValidator(): DocumentValidator {
  if (validator) return validator;
  try {
    // Spelled from src/ down, so that it holds from the bundle (dist/src/bundle/) as well.
    const generated = require(`../engine/${PRECOMPILED_DOCUMENT_VALIDATOR}`) as { digest: string; validate: DocumentValidator };
    if (generated.digest === documentSchemaDigest()) return (validator = generated.validate);
  } catch {
    // Not generated: compile below.
  }
  const { Ajv } = require("ajv") as typeof import("ajv");
  return (validator = new Ajv(DOCUMENT_AJV_OPTIONS).compile<PolicyDocument>(schema));
}
