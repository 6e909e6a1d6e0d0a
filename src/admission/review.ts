import { isObject, renderDenial, renderFinding, type AdmissionRequest, type Finding, type JsonObject, type Verdict } from "../engine/index.js";

export const REVIEW_API_VERSION = "admission.k8s.io/v1";

/** A review the server or CLI cannot process; the message names what is wrong. */
export class ReviewError extends Error {}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof REVIEW_API_VERSION;
  kind: "AdmissionReview";
  response: AdmissionResponse;
}


const OPERATIONS = new Set(["CREATE", "UPDATE", "DELETE", "CONNECT"]);

/** Checks the shape of an admission.k8s.io/v1 AdmissionReview and returns its request. */
export function decodeReview(body: unknown): AdmissionRequest {
  if (!isObject(body)) throw new ReviewError(`expected an AdmissionReview object, got ${body === null ? "null" : Array.isArray(body) ? "an array" : typeof body}`);
  if (body.apiVersion !== REVIEW_API_VERSION) {
    throw new ReviewError(`apiVersion must be "${REVIEW_API_VERSION}", got ${JSON.stringify(body.apiVersion ?? null)}`);
  }
  if (body.kind !== "AdmissionReview") throw new ReviewError(`kind must be "AdmissionReview", got ${JSON.stringify(body.kind ?? null)}`);
  const r = body.request;
  if (!isObject(r)) throw new ReviewError("request: missing or not an object");
  if (typeof r.uid !== "string" || r.uid === "") throw new ReviewError("request.uid: missing or empty");
  for (const field of ["kind", "resource"] as const) {
    if (!isObject(r[field])) throw new ReviewError(`request.${field}: missing or not an object`);
  }
  const kind = r.kind as Record<string, unknown>;
  const resource = r.resource as Record<string, unknown>;
  if (typeof kind.kind !== "string" || typeof kind.version !== "string") throw new ReviewError("request.kind: needs string kind and version");
  if (typeof resource.resource !== "string" || typeof resource.version !== "string") {
    throw new ReviewError("request.resource: needs string resource and version");
  }
  if (typeof r.operation !== "string" || !OPERATIONS.has(r.operation)) {
    throw new ReviewError(`request.operation: must be one of CREATE, UPDATE, DELETE, CONNECT, got ${JSON.stringify(r.operation ?? null)}`);
  }
  for (const field of ["object", "oldObject"] as const) {
    if (r[field] !== undefined && r[field] !== null && !isObject(r[field])) throw new ReviewError(`request.${field}: must be an object or null`);
  }
  if (r.operation === "CREATE" && !isObject(r.object)) throw new ReviewError("request.object: a CREATE must carry the object");
  if (r.operation === "UPDATE" && (!isObject(r.object) || !isObject(r.oldObject))) {
    throw new ReviewError("request.object and request.oldObject: an UPDATE must carry both");
  }
  return {
    ...(r as object),
    kind: { group: typeof kind.group === "string" ? kind.group : "", version: kind.version, kind: kind.kind },
    resource: { group: typeof resource.group === "string" ? resource.group : "", version: resource.version, resource: resource.resource },
    object: (r.object ?? null) as JsonObject | null,
    oldObject: (r.oldObject ?? null) as JsonObject | null,
  } as AdmissionRequest;
}

/** The API server keeps at most 4 KiB of warnings per response; past that it truncates them. */
const WARNINGS_BUDGET = 4096;

export function renderWarnings(warnings: readonly Finding[]): string[] {
  const out: string[] = [];
  let used = 0;
  for (const [i, w] of warnings.entries()) {
    const text = renderFinding(w);
    if (used + text.length > WARNINGS_BUDGET - 64) {
      const left = warnings.length - i;
      out.push(`[virtguard] ${left} more warning${left > 1 ? "s" : ""} omitted`);
      break;
    }
    out.push(text);
    used += text.length;
  }
  return out;
}

export function encodeResponse(uid: string, verdict: Verdict): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: verdict.allowed };
  if (!verdict.allowed) response.status = { code: 403, reason: "Forbidden", message: renderDenial(verdict.denials) };
  if (verdict.warnings.length > 0) response.warnings = renderWarnings(verdict.warnings);
  if (verdict.audits.length > 0) {
    response.auditAnnotations = {};
    for (const a of verdict.audits) {
      // Keys must be valid annotation names; the API server prefixes them with the webhook's name.
      const key = a.policy.slice(0, 63);
      response.auditAnnotations[key] = response.auditAnnotations[key] ? `${response.auditAnnotations[key]}; ${a.message}` : a.message;
    }
  }
  return { apiVersion: REVIEW_API_VERSION, kind: "AdmissionReview", response };
}

/** A response for a request that could not be evaluated, per the configured failure rule. */
export function encodeFailure(uid: string, message: string, rule: "deny" | "allow"): AdmissionReviewResponse {
  const text = `virtguard could not evaluate this request: ${message}`;
  const response: AdmissionResponse =
    rule === "deny"
      ? { uid, allowed: false, status: { code: 500, reason: "InternalError", message: text } }
      : { uid, allowed: true, warnings: [`[virtguard] ${text}; allowed without checks`] };
  return { apiVersion: REVIEW_API_VERSION, kind: "AdmissionReview", response };
}
