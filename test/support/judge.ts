import assert from "node:assert/strict";
import { encodeResponse, type AdmissionReviewResponse } from "../../src/admission/review.js";
import { ObjectStore } from "../../src/cluster/object-store.js";
import { bindParameters, evaluate, type JsonObject, type JsonValue, type PolicySet, type Verdict } from "../../src/engine/index.js";
import { loadPolicyDir } from "../../src/policy-files/policy-dir.js";
import { admissionRequest, type RequestOptions } from "./review.js";

let shipped: PolicySet | undefined;

/** The shipped DVP policy set, loaded once per test process. */
export function shippedPolicies(): PolicySet {
  return (shipped ??= loadPolicyDir());
}

export interface JudgeOptions extends RequestOptions {
  /** Cluster objects the policies may look up. */
  context?: JsonObject[];
  params?: Record<string, JsonValue>;
  policies?: PolicySet;
}

export interface Judgement {
  verdict: Verdict;
  response: AdmissionReviewResponse["response"];
  /** Denial and warning texts, "[policy] message", for assertions. */
  denials: string[];
  warnings: string[];
}

/** Runs one request through the real engine, as the webhook would, and returns what the user would see. */
export function judge(opts: JudgeOptions): Judgement {
  const set = opts.policies ?? shippedPolicies();
  const store = new ObjectStore(set.indexes);
  for (const o of opts.context ?? []) store.upsert(o);
  const request = admissionRequest(opts);
  const verdict = evaluate(set, request, { context: store, params: bindParameters(set, opts.params ?? {}) });
  return {
    verdict,
    response: encodeResponse(request.uid, verdict).response,
    denials: verdict.denials.map((d) => `[${d.policy}] ${d.message}`),
    warnings: verdict.warnings.map((w) => `[${w.policy}] ${w.message}`),
  };
}

/**
 * judge(), asserting that no policy failed to evaluate (a well-formed request gets a verdict from
 * every policy, never "could not be evaluated") and that every message is one line (the API
 * server drops a warning with a newline).
 */
export function judgeCleanly(opts: JudgeOptions): Judgement {
  const j = judge(opts);
  for (const m of [...j.denials, ...j.warnings]) {
    assert.doesNotMatch(m, /could not be evaluated/, m);
    assert.doesNotMatch(m, /[\r\n]/, "a message with a newline");
  }
  return j;
}
