import type { JsonObject, JsonValue } from "../../src/engine/index.js";

/** spec.settings of a ModuleConfig, to read or change in place. */
export function settingsOf(mc: JsonObject): JsonObject {
  return (mc.spec as JsonObject).settings as JsonObject;
}

/** A copy of `from` with `edit` applied to its settings and metadata.generation one higher, as the API server stores a spec change. */
export function nextGeneration(from: JsonObject, edit: (settings: JsonObject) => void = () => undefined): JsonObject {
  const mc = structuredClone(from);
  edit(settingsOf(mc));
  (mc.metadata as JsonObject).generation = Number((from.metadata as JsonObject).generation) + 1;
  return mc;
}

/** The next generation of `from` with spec.settings.`key` set to `value`, or removed when `value` is undefined. */
export function withSetting(from: JsonObject, key: string, value: JsonValue | undefined): JsonObject {
  return nextGeneration(from, (settings) => {
    if (value === undefined) delete settings[key];
    else settings[key] = value;
  });
}
