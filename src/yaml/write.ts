import { dump } from "js-yaml";

/**
 * A value as a YAML document. Strings that any YAML version would read as something else (`yes`,
 * `0o12`, `null`) are quoted, so the text means the same to kubectl (YAML 1.1) and the API server
 * (1.2); long strings are never folded, and repeated objects are written out, not aliased.
 */
export function writeYaml(value: unknown): string {
  return dump(value, { lineWidth: -1, noRefs: true });
}
