import type { CompiledPolicy } from "./policy-set.js";
import type { AdmissionRequest, JsonObject, LabelSelector, ResourceRule } from "./types.js";

function matchesValue(values: readonly string[], value: string): boolean {
  return values.includes("*") || values.includes(value);
}

/** Resource names may carry a subresource ("virtualmachines/status"); "*" and "x/*" wildcards apply as in webhook rules. */
function matchesResource(resources: readonly string[], resource: string, subResource: string | undefined): boolean {
  const full = subResource ? `${resource}/${subResource}` : resource;
  return resources.some((r) => {
    if (r === "*") return !subResource;
    if (r === "*/*") return true;
    if (r.endsWith("/*")) return !!subResource && r.slice(0, -2) === resource;
    if (r.startsWith("*/")) return !!subResource && r.slice(2) === subResource;
    return r === full;
  });
}

export function ruleMatches(rule: ResourceRule, request: AdmissionRequest): boolean {
  const res = request.resource;
  return (
    (rule.operations.includes("*") || rule.operations.includes(request.operation)) &&
    matchesValue(rule.apiGroups, res.group) &&
    matchesValue(rule.apiVersions, res.version) &&
    matchesResource(rule.resources, res.resource, request.subResource)
  );
}

export function rulesMatch(policy: CompiledPolicy, request: AdmissionRequest): boolean {
  return policy.rules.some((r) => ruleMatches(r, request));
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (have[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!present || !values.includes(have[e.key] as string)) return false;
        break;
      case "NotIn":
        if (present && values.includes(have[e.key] as string)) return false;
        break;
      case "Exists":
        if (!present) return false;
        break;
      case "DoesNotExist":
        if (present) return false;
        break;
    }
  }
  return true;
}

export function labelsOf(object: JsonObject | null | undefined): Record<string, string> | undefined {
  const metadata = object?.metadata;
  if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) return undefined;
  const labels = metadata.labels;
  return labels && typeof labels === "object" && !Array.isArray(labels) ? (labels as Record<string, string>) : undefined;
}

/** As the API server does for webhooks: an object selector matches if the new or the old object matches. */
export function objectSelectorMatches(policy: CompiledPolicy, request: AdmissionRequest): boolean {
  if (!policy.objectSelector) return true;
  return (
    (request.object != null && selectorMatches(policy.objectSelector, labelsOf(request.object))) ||
    (request.oldObject != null && selectorMatches(policy.objectSelector, labelsOf(request.oldObject)))
  );
}
