import { bindParameters, parseParameterFlag, type BoundParameters, type JsonValue, type PolicySet } from "../engine/index.js";
import { loadFileContext } from "../cluster/context-provider.js";
import type { ObjectStore } from "../cluster/object-store.js";
import { loadPolicyDir, SHIPPED_POLICIES } from "../policy-files/policy-dir.js";
import { loadPlatform, type Platform } from "../policy-files/platform.js";

/** The flags `review` and `check` share. */
export const dryRunFlags = {
  policies: { type: "string", default: SHIPPED_POLICIES },
  context: { type: "string", multiple: true, default: [] as string[] },
  param: { type: "string", multiple: true, default: [] as string[] },
} as const;

export interface DryRun {
  set: PolicySet;
  params: BoundParameters;
  context: ObjectStore;
  platform: Platform;
}

/** Loads policies, binds parameters and reads context files: everything a dry run needs before the first object. */
export function prepareDryRun(flags: { policies: string; context: string[]; param: string[] }): DryRun {
  const set = loadPolicyDir(flags.policies);
  const given: Record<string, JsonValue> = {};
  for (const flag of flags.param) {
    const [name, value] = parseParameterFlag(flag);
    given[name] = value;
  }
  // What the platform creates at install (policies/platform/objects) is there unless the context says otherwise.
  const platform = loadPlatform(flags.policies);
  return { set, params: bindParameters(set, given), context: loadFileContext([...platform.objectFiles, ...flags.context], set.indexes), platform };
}
