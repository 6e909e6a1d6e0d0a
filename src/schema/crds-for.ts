import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CORE_SCHEMA, load, loadAll } from "js-yaml";
import { groupVersionKind, isObject, type JsonObject } from "../engine/index.js";
import { precompiledCrds } from "./crd-precompiled.js";
import { CrdSchemas } from "./crd-schema.js";

/** The module settings schema in a CRD directory, and the ModuleConfig it describes (as loadCrdDir reads them). */
const MODULE_SETTINGS = { file: "config-values.yaml", module: "virtualization" };

export interface LoadedCrds {
  schemas: CrdSchemas;
  /** Plural resource names by "group/Kind", from the CRDs read. */
  resources: Map<string, string>;
}


function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The CRD schemas of a directory, compiled only for the kinds and versions the given objects use.
 * Compiling a CRD's schema (twice: to validate, and to fill defaults) is what costs at start-up, so a
 * check of one VirtualMachine compiles the VirtualMachine schema at its one version and nothing else;
 * files that cannot hold a needed CRD (no `kind: <Kind>` line in them) are not even parsed.
 * Same files and semantics as `loadCrdDir`, which compiles everything. The directory the build
 * precompiled (the default one, unchanged) compiles nothing: its validators load per kind and version.
 */
export function loadCrdsFor(dir: string, objects: Iterable<JsonObject>): LoadedCrds {
  const precompiled = precompiledCrds(dir);
  if (precompiled) return precompiled;
  const wanted = new Map<string, Set<string>>(); // "group/Kind" -> versions
  let settingsWanted = false;
  for (const o of objects) {
    const { group, version, kind } = groupVersionKind(o);
    const key = `${group}/${kind}`;
    let versions = wanted.get(key);
    if (!versions) wanted.set(key, (versions = new Set()));
    versions.add(version);
    if (kind === "ModuleConfig" && group === "deckhouse.io" && (o.metadata as { name?: unknown } | undefined)?.name === MODULE_SETTINGS.module) settingsWanted = true;
  }
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`${dir}: cannot read CRD directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const kinds = [...new Set([...wanted.keys()].map((k) => k.slice(k.lastIndexOf("/") + 1)))].filter((k) => k !== "");
  const mentionsWantedKind = kinds.length
    ? new RegExp(`\\bkind["']?\\s*:\\s*["']?(?:${kinds.map(escapeRegExp).join("|")})["']?\\s*(?:$|[,}])`, "m")
    : undefined;
  const crds: JsonObject[] = [];
  const resources = new Map<string, string>();
  for (const name of names.filter((n) => /\.(ya?ml|json)$/.test(n) && n !== MODULE_SETTINGS.file).sort()) {
    const file = join(dir, name);
    const text = readFileSync(file, "utf8");
    if (!mentionsWantedKind?.test(text)) continue;
    let docs: unknown[];
    try {
      // js-yaml with the YAML 1.2 core schema reads these files as the yaml package does, in a third of the time.
      docs = loadAll(text, { schema: CORE_SCHEMA });
    } catch (err) {
      throw new Error(`${file}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    for (const crd of docs) {
      if (!isObject(crd) || crd.kind !== "CustomResourceDefinition" || !isObject(crd.spec)) continue;
      const spec = crd.spec;
      const names = isObject(spec.names) ? spec.names : {};
      const key = `${String(spec.group)}/${String(names.kind)}`;
      const versions = wanted.get(key);
      if (!versions) continue;
      if (typeof names.plural === "string") resources.set(key, names.plural);
      const all = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
      let used = all.filter((v) => versions.has(String(v.name)));
      // An unserved version must still be reported as such: keep one version so the kind is known.
      if (used.length === 0) used = all.slice(0, 1);
      crds.push({ ...crd, spec: { ...spec, versions: used } });
    }
  }
  const schemas = new CrdSchemas(crds);
  const settings = join(dir, MODULE_SETTINGS.file);
  if (settingsWanted && existsSync(settings)) {
    let schema: unknown;
    try {
      schema = load(readFileSync(settings, "utf8"), { schema: CORE_SCHEMA });
    } catch (err) {
      throw new Error(`${settings}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    schemas.addModuleSettingsSchema(MODULE_SETTINGS.module, schema as JsonObject);
  }
  return { schemas, resources };
}

/** What a quick scan of manifest texts says they may hold: every apiVersion and kind value, anywhere. */
export interface TypeScan {
  apiVersions: Set<string>;
  kinds: Set<string>;
  /** Whether some text names "virtualization" (the ModuleConfig whose settings have a schema). */
  virtualization: boolean;
}

const TYPE_FIELD = /(?:^|[\s{,])["']?(apiVersion|kind)["']?[ \t]*:[ \t]*["']?([A-Za-z0-9./-]+)/gm;

/**
 * Scans texts for `apiVersion:` and `kind:` values (block, flow or JSON style) without parsing
 * them, so that CRD schemas can be compiled while the manifests are still being parsed. It may
 * find more types than there are (nested `kind:` fields); `covers` tells whether it missed one.
 */
export function scanTypes(texts: Iterable<string>): TypeScan {
  const scan: TypeScan = { apiVersions: new Set(), kinds: new Set(), virtualization: false };
  for (const text of texts) {
    for (const m of text.matchAll(TYPE_FIELD)) (m[1] === "kind" ? scan.kinds : scan.apiVersions).add(m[2] as string);
    if (!scan.virtualization && /virtualization/.test(text)) scan.virtualization = true;
  }
  return scan;
}

/** Stand-in objects for loadCrdsFor: every scanned apiVersion with every scanned kind. */
export function scannedObjects(scan: TypeScan): JsonObject[] {
  const out: JsonObject[] = [];
  for (const apiVersion of scan.apiVersions) {
    for (const kind of scan.kinds) {
      out.push({ apiVersion, kind, metadata: { name: kind === "ModuleConfig" && scan.virtualization ? MODULE_SETTINGS.module : "" } });
    }
  }
  return out;
}

/** Whether schemas compiled from the scan serve every one of these objects as an exact load would. */
export function covers(scan: TypeScan, objects: Iterable<JsonObject>): boolean {
  for (const o of objects) {
    if (!scan.apiVersions.has(String(o.apiVersion)) || !scan.kinds.has(String(o.kind))) return false;
    if (o.kind === "ModuleConfig" && (o.metadata as { name?: unknown } | undefined)?.name === MODULE_SETTINGS.module && !scan.virtualization) return false;
  }
  return true;
}
