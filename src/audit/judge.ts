import { asStoredInPlace, type Stored } from "../check/apiserver.js";
import { identityOf } from "../check/plan.js";
import { RejectedObjects } from "../check/rejected.js";
import type { ObjectResult } from "../check/report.js";
import { judge } from "../check/run.js";
import type { ObjectStore } from "../cluster/object-store.js";
import { matchingPolicies, type BoundParameters, type JsonObject, type PolicySet } from "../engine/index.js";
import { requestFor } from "../apiserver/request.js";
import type { CrdSchemas } from "../schema/crd-schema.js";

/** An existing object to judge, with where it was read (a file and line, or the cluster). */
export interface Existing {
  object: JsonObject;
  file: string;
  line: number;
}

export interface AuditJudgeOptions {
  set: PolicySet;
  params: BoundParameters;
  /** The cluster's objects; the judged ones are put in it as stored (with their CRD defaults). */
  store: ObjectStore;
  resources: ReadonlyMap<string, string> | undefined;
  /** Each object's evaluation budget, as serve's --eval-timeout. */
  evalTimeoutMs: number;
  /**
   * The CRDs to decode and validate objects with. With schemas, the objects are pruned and
   * defaulted in place: pass objects the audit owns (a freshly parsed dump), never an informer's.
   */
  schemas?: CrdSchemas;
  /** Called every `every` objects and at the end with how many were judged. */
  progress?: (judged: number, total: number, denied: number) => void;
  every?: number;
}

/**
 * Judges objects that already exist, as the cluster would judge them now: each is an UPDATE of
 * itself (object and oldObject both the stored object), the request the API server sends when
 * anything writes the object next. So rules about what an object is (its size, its class's sizing
 * policy, its networks) apply, and rules only about how it got there (a name length checked on
 * CREATE, a field that may not change) do not: the cluster no longer asks them.
 *
 * Objects no policy matches are left out of the results.
 */
export function judgeExisting(objects: readonly Existing[], opts: AuditJudgeOptions): ObjectResult[] {
  const { set, resources } = opts;
  // Every object first, so each lookup sees the whole cluster; an UPDATE finds the object itself.
  const stored: Stored[] = objects.map((e) => {
    const s = asStoredInPlace(e.object, opts.schemas);
    opts.store.upsert(s.object as JsonObject);
    return s;
  });
  const ctx = { set, params: opts.params, store: opts.store, rejected: new RejectedObjects(), resources, evalTimeoutMs: opts.evalTimeoutMs };
  const results: ObjectResult[] = [];
  const every = opts.every ?? 5000;
  let denied = 0;
  for (const [i, e] of objects.entries()) {
    if (i > 0 && i % every === 0) opts.progress?.(i, objects.length, denied);
    const s = stored[i] as Stored;
    const object = s.object as JsonObject;
    const probe = requestFor({ uid: "", operation: "UPDATE", object, oldObject: object }, set, resources);
    if (matchingPolicies(set, probe).length === 0) continue;
    const subject = { object, file: e.file, line: e.line };
    const result = judge({ operation: "UPDATE", identity: identityOf(object), subject }, s, i, ctx);
    if (result.status === "denied") denied++;
    results.push(result);
  }
  opts.progress?.(objects.length, objects.length, denied);
  return results;
}
