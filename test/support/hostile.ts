import type { JsonObject, JsonValue } from "../../src/engine/index.js";
import { admissionReview } from "./review.js";

/**
 * Requests an attacker (or a careless tenant) can get through the API server: every one passes
 * the CRD schema, so the API server hands it to the webhook. Shared by the hostile-input suite,
 * the CLI tests and the measurements in docs/server.md.
 */

/** `count` distinct /24 networks inside 10.0.0.0/8, none overlapping. */
export function distinctCidrs(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`);
  return out;
}

/** The virtualization ModuleConfig with these CIDRs and a change of generation (so every rule runs). */
export function moduleConfigWithCidrs(cidrs: readonly JsonValue[], uid = "mc-cidrs"): JsonObject {
  const mc = (generation: number, list: readonly JsonValue[]): JsonObject => ({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization", generation },
    spec: { enabled: true, version: 1, settings: { virtualMachineCIDRs: [...list] } },
  });
  return admissionReview({ uid, operation: "UPDATE", object: mc(4, cidrs), oldObject: mc(3, cidrs.slice(0, 1)) });
}

/**
 * An UPDATE of the virtualization ModuleConfig from `count` /25 networks to the `count` other
 * halves of the same /24s: neither side merges into fewer ranges, so the addresses left outside
 * the new CIDRs are `count` ranges minus `count` holes.
 */
export function moduleConfigInterleaved(count: number, uid = "mc-interleaved"): JsonObject {
  const half = (i: number, upper: boolean): string => `10.${(i >> 8) & 255}.${i & 255}.${upper ? 128 : 0}/25`;
  const mc = (generation: number, upper: boolean): JsonObject => ({
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization", generation },
    spec: { enabled: true, version: 1, settings: { virtualMachineCIDRs: Array.from({ length: count }, (_, i) => half(i, upper)) } },
  });
  return admissionReview({ uid, operation: "UPDATE", object: mc(4, false), oldObject: mc(3, true) });
}

/** An object nested `depth` levels deep, built without recursion. */
export function nested(depth: number, leaf: JsonValue = "x"): JsonValue {
  let value: JsonValue = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** The same, as JSON text, for when even building the object is the thing under test. */
export function nestedJson(depth: number): string {
  return '{"a":'.repeat(depth) + '"x"' + "}".repeat(depth);
}

/** The virtualization ModuleConfig whose spec.settings holds an object `depth` levels deep. */
export function moduleConfigNested(depth: number, uid = "mc-deep"): JsonObject {
  const object: JsonObject = {
    apiVersion: "deckhouse.io/v1alpha1",
    kind: "ModuleConfig",
    metadata: { name: "virtualization", generation: 2 },
    spec: { enabled: true, version: 1, settings: { virtualMachineCIDRs: ["10.66.10.0/24"], extra: nested(depth) } },
  };
  return admissionReview({ uid, operation: "CREATE", object });
}

/** A VirtualMachine with `count` networks (spec.networks has no maxItems in DVP's CRD). */
export function vmWithNetworks(count: number, uid = "vm-networks"): JsonObject {
  const networks: JsonObject[] = [{ type: "Main" }];
  for (let i = 1; i < count; i++) networks.push({ type: "Network", name: `net-${i}`, id: (i % 16000) + 2 });
  const object: JsonObject = {
    apiVersion: "virtualization.deckhouse.io/v1alpha2",
    kind: "VirtualMachine",
    metadata: { name: "many-networks", namespace: "tenant" },
    spec: {
      virtualMachineClassName: "generic",
      cpu: { cores: 2, coreFraction: "100%" },
      memory: { size: "4Gi" },
      blockDeviceRefs: [{ kind: "VirtualDisk", name: "root" }],
      networks,
    },
  };
  return admissionReview({ uid, operation: "CREATE", object });
}
