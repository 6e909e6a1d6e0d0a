import { isObject } from "./object.js";
import type { AdmissionRequest, EmbeddedSpec, Finding, JsonObject, JsonValue, Verdict } from "./types.js";


/**
 * The request for the object a parent embeds (a pool's VirtualMachine template), as the parent's
 * controller would create it: a CREATE in the parent's namespace, named `<parent>-…`, with the
 * template's labels, annotations and spec. Undefined when the parent has no such template (a DELETE,
 * or a field the schema already reports).
 */
export function embeddedRequest(request: AdmissionRequest, spec: EmbeddedSpec): AdmissionRequest | undefined {
  const parent = request.object;
  if (!parent || request.operation === "DELETE") return undefined;
  let template: JsonValue | undefined = parent;
  for (const key of spec.path.split(".")) template = isObject(template) ? template[key] : undefined;
  if (!isObject(template)) return undefined;
  const tm = isObject(template.metadata) ? template.metadata : {};
  const metadata: JsonObject = {};
  if (request.name) metadata.generateName = `${request.name}-`;
  if (request.namespace) metadata.namespace = request.namespace;
  if (tm.labels !== undefined) metadata.labels = tm.labels;
  if (tm.annotations !== undefined) metadata.annotations = tm.annotations;
  const object: JsonObject = { apiVersion: spec.as.apiVersion, kind: spec.as.kind, metadata };
  if (template.spec !== undefined) object.spec = template.spec;
  const slash = spec.as.apiVersion.lastIndexOf("/");
  const group = slash < 0 ? "" : spec.as.apiVersion.slice(0, slash);
  const version = spec.as.apiVersion.slice(slash + 1);
  const embedded: AdmissionRequest = {
    ...request,
    kind: { group, version, kind: spec.as.kind },
    resource: { group, version, resource: spec.as.resource },
    requestKind: { group, version, kind: spec.as.kind },
    requestResource: { group, version, resource: spec.as.resource },
    operation: "CREATE",
    object,
    oldObject: null,
  };
  delete embedded.name;
  delete embedded.subResource;
  return embedded;
}

const LEADING_PATH = /^(?:spec|metadata)(?:\.[A-Za-z0-9_-]+|\[\d+\])*/;

/**
 * A finding about the embedded object, with its field paths as seen from the parent: the path the
 * message starts with (and its repetitions, as in "Set spec.cpu.cores to …") gets the prefix.
 */
export function fromParent(finding: Finding, prefix: string): Finding {
  const leading = LEADING_PATH.exec(finding.message)?.[0];
  if (!leading) return { ...finding, message: `${prefix}: ${finding.message}` };
  const escaped = leading.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const message = finding.message.replace(new RegExp(`(?<![\\w.])${escaped}(?![\\w])`, "g"), `${prefix}.${leading}`);
  return { ...finding, message };
}

/** Adds what the embedded object's own policies say to the parent's verdict. */
export function mergeEmbedded(verdict: Verdict, embedded: Verdict, prefix: string): void {
  for (const name of embedded.matched) if (!verdict.matched.includes(name)) verdict.matched.push(name);
  verdict.denials.push(...embedded.denials.map((f) => fromParent(f, prefix)));
  verdict.warnings.push(...embedded.warnings.map((f) => fromParent(f, prefix)));
  verdict.audits.push(...embedded.audits.map((f) => fromParent(f, prefix)));
}
