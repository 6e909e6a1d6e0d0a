import type { JsonObject } from "./types.js";

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "apps/v1" → group "apps", version "v1"; "v1" (the core group) → group "". */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf("/");
  return { group: slash < 0 ? "" : apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** An object's group, version and kind, as the API server reads them from apiVersion and kind. */
export function groupVersionKind(object: JsonObject): { group: string; version: string; kind: string } {
  return { ...parseApiVersion(String(object.apiVersion ?? "")), kind: String(object.kind ?? "") };
}
