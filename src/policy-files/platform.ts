import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isObject } from "../engine/index.js";

/**
 * What the platform does on its own that a dry run must do too, as data beside the policies
 * (`<policies>/platform/`): the defaults its mutating webhooks fill in before validation, and the
 * objects it creates at install. Nothing here is specific to one platform.
 */
export interface Platform {
  defaults: DefaultingRule[];
  /** Files of objects the platform creates at install: known to exist, overridden by context and manifests. */
  objectFiles: string[];
}

/** "For kind X, when field F is missing, take the name of the one object of kind Y carrying annotations A." */
export interface DefaultingRule {
  name: string;
  description: string;
  /** Where the platform does it, for the reader. */
  source?: string;
  /** The kind defaulted, as "group/Kind" (any version). */
  target: string;
  /** Dotted path of the field, filled when missing, null or "". */
  field: string;
  nameOf: { kind: string; annotations: Record<string, string> };
}

export const PLATFORM_DIR = "platform";
const DEFAULTS_FILE = "defaults.json";

export class PlatformError extends Error {}

/** The platform data beside a policy directory; none when the directory has no `platform/`. */
export function loadPlatform(policyDir: string): Platform {
  const dir = join(policyDir, PLATFORM_DIR);
  if (!existsSync(dir)) return { defaults: [], objectFiles: [] };
  const defaultsFile = join(dir, DEFAULTS_FILE);
  const defaults = existsSync(defaultsFile) ? parseDefaults(defaultsFile, readFileSync(defaultsFile, "utf8")) : [];
  const objectsDir = join(dir, "objects");
  const objectFiles = existsSync(objectsDir)
    ? readdirSync(objectsDir)
        .filter((n) => /\.(ya?ml|json)$/.test(n) && !n.startsWith("."))
        .sort()
        .map((n) => join(objectsDir, n))
    : [];
  return { defaults, objectFiles };
}


const GROUP_KIND = /^[a-z0-9.-]*\/[A-Z][A-Za-z0-9]*$/;

/** defaults.json: `{"defaults": [DefaultingRule...]}`; any problem names the file and the field. */
export function parseDefaults(file: string, text: string): DefaultingRule[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PlatformError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(json) || !Array.isArray(json.defaults)) throw new PlatformError(`${file}: defaults: must be a list`);
  return json.defaults.map((rule, i) => {
    const at = `${file}: defaults[${i}]`;
    if (!isObject(rule)) throw new PlatformError(`${at}: must be an object`);
    const text = (key: string, value: unknown, pattern?: RegExp): string => {
      if (typeof value !== "string" || value === "" || (pattern && !pattern.test(value))) {
        throw new PlatformError(`${at}.${key}: must be ${pattern ? `"group/Kind"` : "a non-empty string"}`);
      }
      return value;
    };
    const nameOf = rule.nameOf;
    if (!isObject(nameOf)) throw new PlatformError(`${at}.nameOf: must be an object`);
    const annotations = nameOf.annotations;
    if (!isObject(annotations) || Object.keys(annotations).length === 0 || !Object.values(annotations).every((v) => typeof v === "string")) {
      throw new PlatformError(`${at}.nameOf.annotations: must map annotation names to string values`);
    }
    const out: DefaultingRule = {
      name: text("name", rule.name),
      description: text("description", rule.description),
      target: text("target", rule.target, GROUP_KIND),
      field: text("field", rule.field),
      nameOf: { kind: text("nameOf.kind", nameOf.kind, GROUP_KIND), annotations: annotations as Record<string, string> },
    };
    if (rule.source !== undefined) out.source = text("source", rule.source);
    return out;
  });
}
