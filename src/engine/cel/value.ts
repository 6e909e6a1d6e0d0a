/** JSON as it comes off the wire or out of YAML; CEL expressions read it as it is (see codegen/values.ts). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };
