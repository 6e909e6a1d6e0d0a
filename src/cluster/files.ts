import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isObject, type JsonObject } from "../engine/index.js";

export class ManifestError extends Error {}

export interface ParsedObject {
  object: JsonObject;
  file: string;
  /** 1-based line of the object's first line in the file, for reports. */
  line: number;
}

/** A YAML document a lenient read passed over because it is not a Kubernetes object. */
export interface SkippedDocument {
  file: string;
  line: number;
  reason: string;
}

/**
 * Why a document is no cluster object, or undefined when it is one: trees hold Helm's Chart.yaml
 * and values, kustomize's own configuration and fragments beside the manifests.
 */
export function notAnObject(value: unknown): string | undefined {
  if (!isObject(value)) return `not a Kubernetes object (${Array.isArray(value) ? "a list" : `a ${typeof value}`})`;
  const hasVersion = typeof value.apiVersion === "string" && value.apiVersion !== "";
  const hasKind = typeof value.kind === "string" && value.kind !== "";
  if (!hasVersion && !hasKind) return "not a Kubernetes object (no apiVersion and no kind)";
  if (!hasVersion) return "not a Kubernetes object (no apiVersion)";
  if (!hasKind) return "not a Kubernetes object (no kind)";
  if (String(value.apiVersion).startsWith("kustomize.config.k8s.io/")) return `a kustomize ${String(value.kind)}, not a cluster object`;
  return undefined;
}

/**
 * Kubernetes objects from YAML or JSON text: one object, several YAML documents, or a `kind: List`.
 * Every problem names the file and where in it. Given `skipped`, documents that are no Kubernetes
 * object (see notAnObject) go there instead of being an error.
 */
export function parseObjects(text: string, file: string, skipped?: SkippedDocument[]): ParsedObject[] {
  const out: ParsedObject[] = [];
  const lineOf = lineCounter(text);
  // Loaded on first use: check's fast path (check/fast-yaml.ts) comes here only for unusual text.
  const { parseAllDocuments } = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const [i, doc] of list.entries()) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0]?.line ?? lineOf(err.pos[0]);
      throw new ManifestError(`${file}:${line}: invalid YAML: ${err.message.split("\n")[0]}`);
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    const line = lineOf(doc.contents?.range?.[0] ?? 0);
    const where = list.length > 1 ? `${file}:${line} (document ${i + 1})` : `${file}:${line}`;
    const skip = skipped && notAnObject(value);
    if (skip) {
      skipped.push({ file, line, reason: skip });
      continue;
    }
    if (!isObject(value)) throw new ManifestError(`${where}: expected a Kubernetes object, got ${Array.isArray(value) ? "a list" : typeof value}`);
    if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
      const items = value.items as unknown[];
      const seq = doc.get("items", true) as { items?: { range?: [number, number, number] }[] } | undefined;
      for (const [j, item] of items.entries()) {
        const itemLine = lineOf(seq?.items?.[j]?.range?.[0] ?? 0);
        const skipItem = skipped && notAnObject(item);
        if (skipItem) {
          skipped.push({ file, line: itemLine, reason: `items[${j}]: ${skipItem}` });
          continue;
        }
        if (!isObject(item)) throw new ManifestError(`${file}:${itemLine}: items[${j}] is not an object`);
        checkObject(item, `${file}:${itemLine}: items[${j}]`);
        out.push({ object: item, file, line: itemLine });
      }
      continue;
    }
    checkObject(value, where);
    out.push({ object: value, file, line });
  }
  return out;
}

function checkObject(value: JsonObject, where: string): void {
  if (typeof value.apiVersion !== "string" || value.apiVersion === "") throw new ManifestError(`${where}: apiVersion: missing or not a string`);
  if (typeof value.kind !== "string" || value.kind === "") throw new ManifestError(`${where}: kind: missing or not a string`);
  if (value.metadata !== undefined && !isObject(value.metadata)) throw new ManifestError(`${where}: metadata: must be an object`);
}

export function readObjectsFile(file: string): ParsedObject[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ManifestError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseObjects(text, file);
}

/** 1-based line of an offset, by binary search over the line starts. */
export function lineCounter(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}
