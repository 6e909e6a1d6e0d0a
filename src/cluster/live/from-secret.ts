import { isObject, type JsonObject, type TargetSpec } from "../../engine/index.js";
import { readYaml, YamlError } from "../../yaml/read.js";


/**
 * The object a `fromSecret` target stands for: the YAML (or JSON) document in one key of a Secret,
 * e.g. Deckhouse's ClusterConfiguration in kube-system/d8-cluster-configuration. The document gets
 * the target's apiVersion and kind when it lacks them, so that it is stored and listed under the
 * target's kind like any watched object. Throws with a message that never quotes the Secret's data.
 */
export function decodeSecretDocument(secret: JsonObject, target: TargetSpec): JsonObject {
  const from = target.fromSecret;
  if (!from) throw new Error(`${target.kind} is not read from a Secret`);
  const where = `Secret ${from.namespace}/${from.name} key ${from.key}`;
  const data = secret.data;
  const encoded = isObject(data) ? data[from.key] : undefined;
  if (typeof encoded !== "string") throw new Error(`${where}: no such key`);
  const text = Buffer.from(encoded, "base64").toString("utf8");
  let value: unknown;
  try {
    value = readYaml(text);
  } catch (err) {
    // The parser's reason may quote the text (an unknown tag, an alias name): only the line is reported.
    if (err instanceof YamlError) throw new Error(`${where}: not valid YAML (line ${err.line})`);
    throw err;
  }
  if (!isObject(value)) throw new Error(`${where}: expected a YAML mapping (a ${target.kind} document)`);
  return { ...value, apiVersion: typeof value.apiVersion === "string" ? value.apiVersion : target.apiVersion, kind: typeof value.kind === "string" ? value.kind : target.kind };
}

/**
 * Top-level fields set over an object of a kind (serve's --override, e.g. a ClusterConfiguration's
 * podSubnetCIDR). Without an object, the override alone stands for it, with the target's apiVersion
 * and kind.
 */
export function applyOverrides(object: JsonObject | undefined, overrides: JsonObject | undefined, target: TargetSpec): JsonObject | undefined {
  if (!overrides || Object.keys(overrides).length === 0) return object;
  return { apiVersion: target.apiVersion, kind: target.kind, ...(object ?? {}), ...overrides };
}
