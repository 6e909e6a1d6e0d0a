import { readFileSync } from "node:fs";
import { isObject, type JsonObject } from "../engine/index.js";
import { parseYaml, YamlError } from "../yaml/read.js";
import type { YamlTree } from "../yaml/tree.js";

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
 * object (see notAnObject) go there instead of being an error. js-yaml's event parser with the
 * YAML 1.2 core schema (the API server's reading); the lines come from the same events.
 */
export function parseObjects(text: string, file: string, skipped?: SkippedDocument[]): ParsedObject[] {
  let tree: YamlTree;
  let documents: unknown[];
  try {
    ({ tree, documents } = parseYaml(text));
  } catch (err) {
    if (err instanceof YamlError) throw new ManifestError(`${file}:${err.line}: invalid YAML: ${err.reason}`);
    throw err;
  }
  const out: ParsedObject[] = [];
  const roots = tree.roots();
  const lineOf = (node: number | undefined): number => (node === undefined ? 1 : tree.line(Math.max(0, tree.start(node))));
  for (const [i, value] of documents.entries()) {
    if (value === null || value === undefined) continue;
    const root = roots[i];
    const line = lineOf(root);
    const where = documents.length > 1 ? `${file}:${line} (document ${i + 1})` : `${file}:${line}`;
    const skip = skipped && notAnObject(value);
    if (skip) {
      skipped.push({ file, line, reason: skip });
      continue;
    }
    if (!isObject(value)) throw new ManifestError(`${where}: expected a Kubernetes object, got ${Array.isArray(value) ? "a list" : typeof value}`);
    if (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items)) {
      const itemNodes = root === undefined ? undefined : tree.listItems(root);
      for (const [j, item] of (value.items as unknown[]).entries()) {
        const itemLine = lineOf(itemNodes?.[j]);
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
