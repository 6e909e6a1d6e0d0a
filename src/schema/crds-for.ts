import { groupVersionKind, isObject, type JsonObject } from "../engine/index.js";
import { fieldSchemaKey, readCrdDir } from "./crd-dir.js";
import { precompiledCrds } from "./crd-precompiled.js";
import { CrdSchemas } from "./crd-schema.js";

export interface LoadedCrds {
  schemas: CrdSchemas;
  /** Plural resource names by "group/Kind", from the CRDs read. */
  resources: Map<string, string>;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * The CRD schemas of a directory (see crd-dir.ts), compiled only for the kinds and versions the
 * given objects use, or for all of them without objects. Compiling a CRD's schema is what costs at
 * start-up, so a check of one VirtualMachine compiles the VirtualMachine schema at its one version
 * and nothing else; files that cannot hold a needed CRD (no `kind: <Kind>` line in them) are not
 * even parsed. A field schema is compiled for the objects of its group, kind and name (an object
 * without a name stands for any). The directory the build precompiled (the default one,
 * unchanged) compiles nothing: its validators load per kind and version.
 */
export function loadCrdsFor(dir: string, objects?: Iterable<JsonObject>): LoadedCrds {
  const precompiled = precompiledCrds(dir);
  if (precompiled) return precompiled;
  let wanted: Map<string, Set<string>> | undefined; // "group/Kind" -> versions
  let wantedFields: Set<string> | undefined; // fieldSchemaKey, with "" for any name
  if (objects) {
    wanted = new Map();
    wantedFields = new Set();
    for (const o of objects) {
      const { group, version, kind } = groupVersionKind(o);
      const key = `${group}/${kind}`;
      let versions = wanted.get(key);
      if (!versions) wanted.set(key, (versions = new Set()));
      versions.add(version);
      const name = (o.metadata as { name?: unknown } | undefined)?.name;
      wantedFields.add(fieldSchemaKey(group, kind, typeof name === "string" ? name : ""));
    }
  }
  const kinds = wanted ? [...new Set([...wanted.keys()].map((k) => k.slice(k.lastIndexOf("/") + 1)))].filter((k) => k !== "") : [];
  const mentionsWantedKind = kinds.length ? new RegExp(`\\bkind["']?\\s*:\\s*["']?(?:${kinds.map(escapeRegExp).join("|")})["']?\\s*(?:$|[,}])`, "m") : undefined;
  const contents = readCrdDir(dir, {
    mayHold: wanted ? (text) => mentionsWantedKind?.test(text) ?? false : undefined,
    wantField: wantedFields ? (f) => wantedFields.has(fieldSchemaKey(f.group, f.kind, f.name)) || wantedFields.has(fieldSchemaKey(f.group, f.kind, "")) : undefined,
  });
  const crds: JsonObject[] = [];
  const resources = new Map<string, string>();
  for (const crd of contents.crds) {
    if (!isObject(crd.spec)) continue;
    const spec = crd.spec;
    const names = isObject(spec.names) ? spec.names : {};
    const key = `${String(spec.group)}/${String(names.kind)}`;
    const versions = wanted?.get(key);
    if (wanted && !versions) continue;
    if (typeof names.plural === "string") resources.set(key, names.plural);
    if (!versions) {
      crds.push(crd);
      continue;
    }
    const all = Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [];
    let used = all.filter((v) => versions.has(String(v.name)));
    // An unserved version must still be reported as such: keep one version so the kind is known.
    if (used.length === 0) used = all.slice(0, 1);
    crds.push({ ...crd, spec: { ...spec, versions: used } });
  }
  const schemas = new CrdSchemas(crds);
  for (const { spec, schema } of contents.fields) schemas.addFieldSchema(spec, schema);
  return { schemas, resources };
}

/** What a quick scan of manifest texts says they may hold: every apiVersion and kind value, anywhere. */
export interface TypeScan {
  apiVersions: Set<string>;
  kinds: Set<string>;
}

const TYPE_FIELD = /(?:^|[\s{,])["']?(apiVersion|kind)["']?[ \t]*:[ \t]*["']?([A-Za-z0-9./-]+)/gm;

/**
 * Scans texts for `apiVersion:` and `kind:` values (block, flow or JSON style) without parsing
 * them, so that CRD schemas can be compiled while the manifests are still being parsed. It may
 * find more types than there are (nested `kind:` fields); `covers` tells whether it missed one.
 */
export function scanTypes(texts: Iterable<string>): TypeScan {
  const scan: TypeScan = { apiVersions: new Set(), kinds: new Set() };
  for (const text of texts) {
    for (const m of text.matchAll(TYPE_FIELD)) (m[1] === "kind" ? scan.kinds : scan.apiVersions).add(m[2] as string);
  }
  return scan;
}

/** Stand-in objects for loadCrdsFor: every scanned apiVersion with every scanned kind, of any name. */
export function scannedObjects(scan: TypeScan): JsonObject[] {
  const out: JsonObject[] = [];
  for (const apiVersion of scan.apiVersions) {
    for (const kind of scan.kinds) out.push({ apiVersion, kind, metadata: {} });
  }
  return out;
}

/** Whether schemas compiled from the scan serve every one of these objects as an exact load would. */
export function covers(scan: TypeScan, objects: Iterable<JsonObject>): boolean {
  for (const o of objects) {
    if (!scan.apiVersions.has(String(o.apiVersion)) || !scan.kinds.has(String(o.kind))) return false;
  }
  return true;
}
