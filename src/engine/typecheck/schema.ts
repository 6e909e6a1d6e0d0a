import type { JsonObject } from "../types.js";
import { BOOL, DYN, INT, list, object, scalar, STRING, type CheckType } from "./types.js";
import { isObject } from "../object.js";

/**
 * A kind the API server serves, with the openAPIV3Schema of each version: what a CRD declares.
 * The loader receives these as data (the engine reads no files), from the CRDs beside the policies.
 */
export interface KindSchema {
  group: string;
  kind: string;
  /** The plural resource name that resourceRules use. */
  resource: string;
  versions: readonly { name: string; schema: JsonObject }[];
}

const STRING_MAP: CheckType = { kind: "map", value: STRING };

/** ObjectMeta, which CRD schemas leave as `type: object` and the API server fills in. */
const OBJECT_META = object("metadata", {
  name: STRING,
  generateName: STRING,
  namespace: STRING,
  uid: STRING,
  resourceVersion: STRING,
  generation: INT,
  creationTimestamp: STRING,
  deletionTimestamp: STRING,
  deletionGracePeriodSeconds: INT,
  labels: STRING_MAP,
  annotations: STRING_MAP,
  ownerReferences: list(DYN),
  finalizers: list(STRING),
  managedFields: list(DYN),
});

/**
 * The type of values a structural schema admits. int-or-string, `anyOf`, and schemas that keep
 * unknown fields are `dyn` (or open objects); `number` is `dyn` too, since a JSON 2 arrives as an int.
 */
export function typeOfSchema(schema: JsonObject, path: string): CheckType {
  if (schema["x-kubernetes-int-or-string"] === true || schema.anyOf !== undefined || schema.oneOf !== undefined) return DYN;
  const keepsUnknown = schema["x-kubernetes-preserve-unknown-fields"] === true;
  switch (schema.type) {
    case "boolean":
      return BOOL;
    case "integer":
      return INT;
    case "string":
      return typeof schema.maxLength === "number" ? { kind: "scalar", name: "string", maxLength: schema.maxLength } : scalar("string");
    case "array":
      return list(isObject(schema.items) ? typeOfSchema(schema.items, `${path}[]`) : DYN, typeof schema.maxItems === "number" ? schema.maxItems : undefined);
    case "object": {
      if (isObject(schema.properties)) {
        const fields = new Map<string, CheckType>();
        for (const [name, sub] of Object.entries(schema.properties)) if (isObject(sub)) fields.set(name, typeOfSchema(sub, path ? `${path}.${name}` : name));
        return object(path, fields, keepsUnknown || schema.additionalProperties === true || isObject(schema.additionalProperties));
      }
      if (isObject(schema.additionalProperties)) {
        const value = typeOfSchema(schema.additionalProperties, `${path}[*]`);
        return typeof schema.maxProperties === "number" ? { kind: "map", value, maxItems: schema.maxProperties } : { kind: "map", value };
      }
      return DYN;
    }
    default:
      return DYN;
  }
}

/** A top-level object of a kind: its schema, with the metadata every object has. */
export function typeOfKindVersion(schema: JsonObject): CheckType {
  const t = typeOfSchema(schema, "");
  if (t.kind !== "object") return t;
  const fields = new Map(t.fields);
  fields.set("apiVersion", STRING);
  fields.set("kind", STRING);
  fields.set("metadata", OBJECT_META);
  return object("", fields, t.open);
}
